//! The deployment's configuration: everything any function reads from its environment (this
//! module and [`crate::wiring`] are the only readers of the environment), and the link-token
//! secret (loaded by [`crate::wiring`] in the functions that need it).

use std::sync::Arc;

use crate::domain::{Domain, Email, PortalSettings};

/// The key link tokens are derived from. Never printed (`Debug` is redacted); empty in the
/// functions that do not load it, where using it is a bug (it panics rather than derive tokens
/// from an empty key).
#[derive(Clone, Default)]
pub struct TokenSecret(Arc<[u8]>);

/// Shortest accepted secret.
pub const MIN_TOKEN_SECRET_BYTES: usize = 32;

impl TokenSecret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, String> {
        let bytes = bytes.into();
        if bytes.len() < MIN_TOKEN_SECRET_BYTES {
            return Err(format!("the token secret must be at least {MIN_TOKEN_SECRET_BYTES} bytes"));
        }
        Ok(Self(bytes.into()))
    }
}

impl std::ops::Deref for TokenSecret {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        assert!(!self.0.is_empty(), "this function was started without the token secret (Ctx::with_token_secret)");
        &self.0
    }
}

impl std::fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "TokenSecret(<not loaded>)" } else { "TokenSecret(<redacted>)" })
    }
}

/// The origin-verify secret; never printed (`Debug` is redacted).
#[derive(Clone)]
pub struct OriginVerify(pub String);

impl std::fmt::Debug for OriginVerify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OriginVerify(<redacted>)")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `GATEHOUSE_TABLE` [gatehouse]
    pub table: String,
    /// `GATEHOUSE_SENDER`: From address when a portal sets no `email_from`.
    pub sender: String,
    /// `GATEHOUSE_ALLOWED_SENDER_DOMAINS` (comma-separated) [the sender's domain]: the domains a
    /// portal's `email_from` may use (the IAM policy allows sending from these only).
    pub allowed_sender_domains: Vec<Domain>,
    /// `GATEHOUSE_PORTAL_URL`: link base when a portal sets no `portal_url`.
    pub portal_url: Option<String>,
    /// `GATEHOUSE_PAGES_URL`: the origin serving the developer pages (the HTTP API's URL;
    /// locally `http://127.0.0.1:9000`). Without `portal_url` (portal's or deployment's), mail
    /// links go to `{pages_url}/portal/{portal_id}/...`.
    pub pages_url: Option<String>,
    /// The key link tokens are derived from, read from the Secrets Manager secret named by
    /// `token_secret_arn` by [`crate::wiring::SecretLoader`].
    pub token_secret: TokenSecret,
    /// `GATEHOUSE_TOKEN_SECRET_ARN`: the Secrets Manager secret holding the link-token secret.
    pub token_secret_arn: Option<String>,
    /// `GATEHOUSE_CLOCK_OFFSET_SECONDS` [0] (local stacks only): shifts the clock so expiry can
    /// be tested without sleeping.
    pub clock_offset_seconds: i64,
    /// `GATEHOUSE_SES_CONFIGURATION_SET`: the SES configuration set mail is sent with.
    pub ses_configuration_set: Option<String>,
    /// `GATEHOUSE_ORIGIN_VERIFY`: the secret CloudFront adds on its way to the origin (see
    /// [`crate::http::client_ip`]).
    pub origin_verify: Option<OriginVerify>,
    /// `GATEHOUSE_AUTHORIZER_PORTAL_ID`: the authorizer's portal when no stage variable names one.
    pub authorizer_portal: Option<uuid::Uuid>,
    /// `GATEHOUSE_ROUTE_PRODUCTS` [empty]: the authorizer's `METHOD:/path=product` pairs.
    pub route_products: String,
    /// `GATEHOUSE_SESSION_TTL_SECONDS` [43200]: how long a developer session lasts.
    pub session_ttl_seconds: i64,
    /// `GATEHOUSE_ALLOW_CLOCK_OVERRIDE=1` (local stacks only): honour the
    /// `x-gatehouse-clock-offset` request header so tests can move time without sleeping.
    pub allow_clock_override: bool,
    /// `GATEHOUSE_MAIL_RETRY_SECONDS` [12]: how long the consumer retries a failing send before
    /// failing the record (must stay below the mail claim's lease).
    pub mail_retry_seconds: u64,
    /// `GATEHOUSE_CONSUMER_CONCURRENCY` [32]: how many developer chains of one stream batch the
    /// consumer works at once (1: one record after another, in stream order).
    pub consumer_concurrency: usize,
    /// Anti-automation limits of the public routes (`GATEHOUSE_*_LIMIT_PER_*`).
    pub rate_limits: crate::throttle::RateLimits,
    /// `GATEHOUSE_KMS_KEY_ID`: the KMS key identity providers' client secrets are sealed with.
    pub kms_key_id: Option<String>,
    /// `GATEHOUSE_SSO_ALLOW_LOOPBACK_HTTP=1` (local stacks only): an identity provider's issuer
    /// may be `http` on a loopback host (the local OpenID Provider).
    pub sso_allow_loopback_http: bool,
    /// `GATEHOUSE_WEBHOOK_ALLOW_LOOPBACK_HTTP=1` (local stacks only): webhook endpoints may be
    /// plain http on a loopback address (deployed, only https to public addresses).
    pub webhook_allow_loopback_http: bool,
    /// `GATEHOUSE_WEBHOOK_QUEUE_URL`: the delivery queue (webhook-fanout and webhook-delivery).
    pub webhook_queue_url: Option<String>,
    /// `GATEHOUSE_WEBHOOK_RETRY_SCHEDULE` [the Standard Webhooks one]: comma-separated retry
    /// delays in seconds (local stacks shorten it).
    pub webhook_retry_schedule: crate::domain::webhooks::RetrySchedule,
    /// `GATEHOUSE_WEBHOOK_DISABLE_AFTER_SECONDS` [432000: 5 days]: an endpoint failing every
    /// delivery this long since its last success is disabled (local stacks shorten it).
    pub webhook_disable_after_seconds: i64,
    /// `GATEHOUSE_WEBHOOK_ROTATION_OVERLAP_SECONDS` [86400]: how long a rotated-out secret keeps
    /// signing beside the new one (local stacks shorten it).
    pub webhook_rotation_overlap_seconds: i64,
}

/// Parses `GATEHOUSE_ALLOWED_SENDER_DOMAINS`; without it, only the default sender's domain.
pub fn parse_sender_domains(raw: Option<&str>, sender: &str) -> Result<Vec<Domain>, String> {
    let listed: Vec<&str> = raw.unwrap_or_default().split(',').map(str::trim).filter(|d| !d.is_empty()).collect();
    let domains = if listed.is_empty() {
        vec![Email::parse(sender).map_err(|e| format!("GATEHOUSE_SENDER {e}"))?.domain().to_string()]
    } else {
        listed.iter().map(|d| d.to_string()).collect()
    };
    domains.iter().map(|d| Domain::parse(d).map_err(|e| format!("GATEHOUSE_ALLOWED_SENDER_DOMAINS: {d:?} {e}"))).collect()
}

/// A positive number of seconds; anything else is ignored (the default applies).
fn positive_seconds(raw: Option<String>) -> Option<i64> {
    raw.and_then(|v| v.trim().parse::<i64>().ok()).filter(|v| *v > 0)
}

/// The webhook worker's rules from the configuration.
impl Config {
    pub fn delivery_rules(&self) -> crate::domain::webhooks::DeliveryRules {
        crate::domain::webhooks::DeliveryRules {
            schedule: self.webhook_retry_schedule.clone(),
            disable_after_seconds: self.webhook_disable_after_seconds,
        }
    }
}

/// Developer chains of one stream batch the consumer works at once (see docs/design.md).
pub const DEFAULT_CONSUMER_CONCURRENCY: usize = 32;

impl Config {
    pub fn from_env() -> Self {
        let raw = |k: &str| std::env::var(k).ok();
        let var = |k: &str| raw(k).filter(|v| !v.trim().is_empty());
        let sender = var("GATEHOUSE_SENDER").unwrap_or_else(|| "no-reply@gatehouse.local".into());
        let allowed_sender_domains =
            parse_sender_domains(var("GATEHOUSE_ALLOWED_SENDER_DOMAINS").as_deref(), &sender).unwrap_or_else(|e| {
                tracing::error!(error = %e, "no portal may set email_from");
                Vec::new()
            });
        Self {
            table: var("GATEHOUSE_TABLE").unwrap_or_else(|| "gatehouse".into()),
            sender,
            allowed_sender_domains,
            portal_url: var("GATEHOUSE_PORTAL_URL"),
            pages_url: var("GATEHOUSE_PAGES_URL").map(|u| u.trim_end_matches('/').to_string()),
            token_secret: TokenSecret::default(),
            token_secret_arn: var("GATEHOUSE_TOKEN_SECRET_ARN"),
            clock_offset_seconds: raw("GATEHOUSE_CLOCK_OFFSET_SECONDS").and_then(|v| v.parse().ok()).unwrap_or(0),
            ses_configuration_set: raw("GATEHOUSE_SES_CONFIGURATION_SET"),
            origin_verify: var("GATEHOUSE_ORIGIN_VERIFY").map(OriginVerify),
            authorizer_portal: raw("GATEHOUSE_AUTHORIZER_PORTAL_ID").and_then(|p| p.parse().ok()),
            route_products: raw("GATEHOUSE_ROUTE_PRODUCTS").unwrap_or_default(),
            session_ttl_seconds: var("GATEHOUSE_SESSION_TTL_SECONDS").and_then(|v| v.parse().ok()).unwrap_or(43_200),
            allow_clock_override: var("GATEHOUSE_ALLOW_CLOCK_OVERRIDE").as_deref() == Some("1"),
            mail_retry_seconds: var("GATEHOUSE_MAIL_RETRY_SECONDS").and_then(|v| v.parse().ok()).unwrap_or(12).min(15),
            rate_limits: crate::throttle::RateLimits::from_vars(raw),
            consumer_concurrency: var("GATEHOUSE_CONSUMER_CONCURRENCY")
                .and_then(|v| v.parse().ok())
                .unwrap_or(DEFAULT_CONSUMER_CONCURRENCY)
                .clamp(1, 256),
            kms_key_id: var("GATEHOUSE_KMS_KEY_ID"),
            sso_allow_loopback_http: var("GATEHOUSE_SSO_ALLOW_LOOPBACK_HTTP").as_deref() == Some("1"),
            webhook_allow_loopback_http: var("GATEHOUSE_WEBHOOK_ALLOW_LOOPBACK_HTTP").as_deref() == Some("1"),
            webhook_queue_url: var("GATEHOUSE_WEBHOOK_QUEUE_URL"),
            webhook_retry_schedule: crate::domain::webhooks::RetrySchedule::parse(raw("GATEHOUSE_WEBHOOK_RETRY_SCHEDULE").as_deref()),
            webhook_disable_after_seconds: positive_seconds(var("GATEHOUSE_WEBHOOK_DISABLE_AFTER_SECONDS"))
                .unwrap_or(crate::domain::webhooks::DISABLE_AFTER_SECONDS),
            webhook_rotation_overlap_seconds: positive_seconds(var("GATEHOUSE_WEBHOOK_ROTATION_OVERLAP_SECONDS"))
                .unwrap_or(crate::domain::webhooks::ROTATION_OVERLAP_SECONDS),
        }
    }

    /// The base of a portal's links in mail: its `portal_url`, else the deployment's, else the
    /// developer pages of this deployment.
    pub fn portal_links_base(&self, portal: &crate::domain::Portal) -> Option<String> {
        portal
            .settings
            .portal_url
            .clone()
            .or_else(|| self.portal_url.clone())
            .or_else(|| self.pages_url.as_ref().map(|p| format!("{p}/portal/{}", portal.id)))
    }

    /// Whether mail may be sent from this address (its domain is one of the allowed ones,
    /// exactly: the IAM condition is `ses:FromAddress` like `*@<domain>`).
    pub fn allows_sender(&self, address: &str) -> bool {
        Email::parse(address).is_ok_and(|e| self.allowed_sender_domains.iter().any(|d| d.as_str() == e.domain()))
    }

    /// The From address of a portal's mail: its `email_from` when allowed (one saved before the
    /// check existed, or a domain since removed, falls back), else the deployment's sender.
    pub fn sender_for(&self, settings: &PortalSettings) -> String {
        match &settings.email_from {
            Some(from) if self.allows_sender(from) => from.clone(),
            Some(from) => {
                tracing::warn!(email_from = %from, "email_from is outside the allowed sender domains; using the default sender");
                self.sender.clone()
            }
            None => self.sender.clone(),
        }
    }

    /// Start-up check of the mail settings: the default sender must be allowed too.
    pub fn check_sender(&self) -> Result<(), String> {
        if self.allows_sender(&self.sender) {
            Ok(())
        } else {
            Err(format!(
                "GATEHOUSE_SENDER {} is not in GATEHOUSE_ALLOWED_SENDER_DOMAINS ({})",
                self.sender,
                self.allowed_sender_domains.iter().map(Domain::as_str).collect::<Vec<_>>().join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_links_go_to_the_portals_url_else_the_deployments_else_the_developer_pages() {
        let mut portal = crate::domain::Portal {
            id: uuid::Uuid::nil(),
            name: "Acme".into(),
            settings: Default::default(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            version: 0,
        };
        let mut config = Config { portal_url: None, pages_url: Some("http://127.0.0.1:9000".into()), ..Config::from_env() };
        assert_eq!(config.portal_links_base(&portal).as_deref(), Some("http://127.0.0.1:9000/portal/00000000-0000-0000-0000-000000000000"));
        config.portal_url = Some("https://dev.acme.example".into());
        assert_eq!(config.portal_links_base(&portal).as_deref(), Some("https://dev.acme.example"));
        portal.settings.portal_url = Some("https://portal.acme.example".into());
        assert_eq!(config.portal_links_base(&portal).as_deref(), Some("https://portal.acme.example"));
    }

    #[test]
    fn a_token_secret_never_shows_in_debug_output_and_must_be_long_enough() {
        let secret = TokenSecret::new("s3cr3t-value-that-is-long-enough-000000").unwrap();
        let config = Config { token_secret: secret, ..Config::from_env() };
        assert!(!format!("{config:?}").contains("s3cr3t"), "{config:?}");
        assert!(TokenSecret::new("short").is_err());
    }

    #[test]
    #[should_panic(expected = "without the token secret")]
    fn a_function_without_the_secret_cannot_derive_tokens_from_an_empty_key() {
        let _ = crate::crypto::derive_token(
            &Config::from_env().token_secret,
            crate::tokens::RESET_TOKEN_PREFIX,
            "reset",
            uuid::Uuid::nil(),
            "n",
        );
    }

    #[test]
    fn sender_domains_default_to_the_senders_and_match_exactly() {
        let mut config = Config::from_env();
        config.sender = "no-reply@mail.acme.com".into();
        config.allowed_sender_domains = parse_sender_domains(None, &config.sender).unwrap();
        assert!(config.allows_sender("team@Mail.Acme.com"));
        assert!(!config.allows_sender("team@acme.com"), "not the parent");
        assert!(!config.allows_sender("team@x.mail.acme.com"), "not a subdomain: IAM's *@domain would refuse it");
        assert!(config.check_sender().is_ok());
        config.allowed_sender_domains = parse_sender_domains(Some(" acme.com, partner.io "), &config.sender).unwrap();
        assert!(config.allows_sender("a@partner.io"));
        assert!(config.check_sender().is_err(), "the default sender must be in the list");
        let settings = PortalSettings { email_from: Some("ceo@evil.example".into()), ..Default::default() };
        assert_eq!(config.sender_for(&settings), config.sender, "a stored email_from outside the list falls back");
        assert!(parse_sender_domains(Some("not a domain"), &config.sender).is_err());
    }
}

/// How the functions log (`crate::logging`): Lambda's advanced logging controls
/// (`AWS_LAMBDA_LOG_LEVEL`, `AWS_LAMBDA_LOG_FORMAT`) and `RUST_LOG`, read here with the rest of
/// the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSettings {
    pub lambda_level: Option<String>,
    pub rust_log: Option<String>,
    /// `AWS_LAMBDA_LOG_FORMAT=JSON`: JSON lines.
    pub json: bool,
}

impl LogSettings {
    pub fn from_env() -> Self {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            lambda_level: env("AWS_LAMBDA_LOG_LEVEL"),
            rust_log: env("RUST_LOG"),
            json: env("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")),
        }
    }
}

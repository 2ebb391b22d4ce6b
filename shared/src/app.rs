//! Built once per Lambda sandbox in `main`: configuration, SDK clients, clock, and (only in
//! the functions that issue or mail links) the link-token secret from Secrets Manager.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{AppName, BehaviorVersion, SdkConfig};
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

use crate::domain::{Domain, Email, PortalSettings, Timestamp};
use crate::dynamo::Dynamo;
use crate::error::AppError;
use crate::ses::Ses;

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
    /// The key link tokens are derived from, read from the Secrets Manager secret named by
    /// `GATEHOUSE_TOKEN_SECRET_ARN` by [`Ctx::with_token_secret`] / [`load_token_secret`].
    pub token_secret: TokenSecret,
    /// `GATEHOUSE_SESSION_TTL_SECONDS` [43200]: how long a developer session lasts.
    pub session_ttl_seconds: i64,
    /// `GATEHOUSE_ALLOW_CLOCK_OVERRIDE=1` (local stacks only): honour the
    /// `x-gatehouse-clock-offset` request header so tests can move time without sleeping.
    pub allow_clock_override: bool,
    /// `GATEHOUSE_MAIL_RETRY_SECONDS` [12]: how long the consumer retries a failing send before
    /// failing the record (must stay below the mail claim's lease).
    pub mail_retry_seconds: u64,
    /// Anti-automation limits of the public routes (`GATEHOUSE_*_LIMIT_PER_*`).
    pub rate_limits: crate::throttle::RateLimits,
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

impl Config {
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
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
            token_secret: TokenSecret::default(),
            session_ttl_seconds: var("GATEHOUSE_SESSION_TTL_SECONDS").and_then(|v| v.parse().ok()).unwrap_or(43_200),
            allow_clock_override: var("GATEHOUSE_ALLOW_CLOCK_OVERRIDE").as_deref() == Some("1"),
            mail_retry_seconds: var("GATEHOUSE_MAIL_RETRY_SECONDS").and_then(|v| v.parse().ok()).unwrap_or(12).min(15),
            rate_limits: crate::throttle::RateLimits::from_env(),
        }
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

/// The time source. Production uses the system clock; `GATEHOUSE_CLOCK_OFFSET_SECONDS`
/// shifts it (local stack only) so expiry can be tested without sleeping.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    offset_seconds: i64,
}

impl Clock {
    pub fn from_env() -> Self {
        Self { offset_seconds: std::env::var("GATEHOUSE_CLOCK_OFFSET_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(0) }
    }
    pub fn fixed_offset(offset_seconds: i64) -> Self {
        Self { offset_seconds }
    }
    pub fn now(&self) -> Timestamp {
        chrono::Utc::now() + chrono::Duration::seconds(self.offset_seconds)
    }
}

/// SDK configuration with deliberate retries and timeouts: standard mode (exponential backoff
/// with jitter, throttling and 5xx retried), 3 attempts, each attempt bounded so a stuck
/// connection cannot eat the whole Lambda timeout. Endpoints come from `AWS_ENDPOINT_URL`
/// (or the per-service variables), so the emulator, LocalStack or AWS all work unchanged.
/// `app` (the function's name) goes into every call's user agent as `app/gatehouse-<app>`:
/// CloudTrail shows which function made a call, and so does the local fault proxy, which
/// checks each function's calls against its IAM policy in the template.
pub async fn sdk_config(app: &str) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(50)))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(4))
                .operation_timeout(Duration::from_secs(9))
                .build(),
        );
    match AppName::new(format!("gatehouse-{app}")) {
        Ok(name) => loader = loader.app_name(name),
        Err(_) => tracing::warn!(app, "not a valid SDK app name"),
    }
    loader.load().await
}

/// Reads the link-token secret named by `GATEHOUSE_TOKEN_SECRET_ARN` from Secrets Manager
/// (the `SecretString`, at least 32 bytes). Errors never carry the value.
pub async fn load_token_secret(sdk: &SdkConfig) -> Result<TokenSecret, String> {
    let id = std::env::var("GATEHOUSE_TOKEN_SECRET_ARN")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or("GATEHOUSE_TOKEN_SECRET_ARN is not set: this function needs the link-token secret")?;
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let out = client
        .get_secret_value()
        .secret_id(&id)
        .send()
        .await
        .map_err(|e| format!("cannot read the token secret {id}: {}", crate::error::error_chain(&e)))?;
    TokenSecret::new(out.secret_string.ok_or_else(|| format!("the token secret {id} has no SecretString"))?.into_bytes())
}

/// The token secret, fetched once per sandbox: the fetch starts at cold start, beside the rest
/// of the start-up (the runtime's first poll), and the first request that needs it waits for
/// it. A failed fetch is tried again by the next request instead of failing the sandbox.
pub struct SecretLoader {
    sdk: SdkConfig,
    first: Mutex<Option<JoinHandle<Result<TokenSecret, String>>>>,
    secret: OnceCell<TokenSecret>,
}

impl SecretLoader {
    pub fn start(sdk: &SdkConfig) -> Self {
        let fetch = tokio::spawn({
            let sdk = sdk.clone();
            async move { load_token_secret(&sdk).await }
        });
        Self { sdk: sdk.clone(), first: Mutex::new(Some(fetch)), secret: OnceCell::new() }
    }

    pub async fn get(&self) -> Result<&TokenSecret, AppError> {
        self.secret
            .get_or_try_init(|| async {
                let first = self.first.lock().expect("not poisoned").take();
                let result = match first {
                    Some(fetch) => fetch.await.unwrap_or_else(|e| Err(format!("the secret fetch failed: {e}"))),
                    None => load_token_secret(&self.sdk).await,
                };
                result.map_err(|e| {
                    tracing::error!(error = %e, "token secret unavailable");
                    AppError::Unavailable(e)
                })
            })
            .await
    }
}

pub fn dynamo(sdk: &SdkConfig, config: &Config) -> Dynamo {
    Dynamo::new(aws_sdk_dynamodb::Client::new(sdk), config.table.clone())
}

pub fn ses(sdk: &SdkConfig) -> Ses {
    Ses::new(aws_sdk_sesv2::Client::new(sdk))
}

/// Everything a handler needs, built once.
#[derive(Clone)]
pub struct Ctx {
    pub store: Dynamo,
    pub config: Config,
    pub clock: Clock,
    secret: Option<Arc<SecretLoader>>,
    with_secret: Arc<OnceCell<Config>>,
}

impl Ctx {
    /// Now, as this request sees it (the clock override header counts only on local stacks).
    pub fn now(&self, req: &lambda_http::Request) -> Timestamp {
        if self.config.allow_clock_override {
            if let Some(offset) =
                req.headers().get("x-gatehouse-clock-offset").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok())
            {
                return self.clock.now() + chrono::Duration::seconds(offset);
            }
        }
        self.clock.now()
    }

    /// For a function that never touches link tokens (`app` is its name, for the user agent).
    pub async fn from_env(app: &str) -> Self {
        let config = Config::from_env();
        let sdk = sdk_config(app).await;
        Self { store: dynamo(&sdk, &config), config, clock: Clock::from_env(), secret: None, with_secret: Default::default() }
    }

    /// For a function that issues or checks link tokens: also starts reading the secret.
    pub async fn with_token_secret(app: &str) -> Self {
        let config = Config::from_env();
        let sdk = sdk_config(app).await;
        let secret = Some(Arc::new(SecretLoader::start(&sdk)));
        Self { store: dynamo(&sdk, &config), config, clock: Clock::from_env(), secret, with_secret: Default::default() }
    }

    /// The configuration with the token secret in it (waits for the cold-start fetch once).
    pub async fn config_with_secret(&self) -> Result<&Config, AppError> {
        let loader = self.secret.as_ref().ok_or_else(|| AppError::internal("this function does not load the token secret"))?;
        self.with_secret.get_or_try_init(|| async { Ok(Config { token_secret: loader.get().await?.clone(), ..self.config.clone() }) }).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let _ = crate::crypto::derive_token(&Config::from_env().token_secret, "ghr_", "reset", uuid::Uuid::nil(), "n");
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

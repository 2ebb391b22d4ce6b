//! Portal settings: stored form, defaults, and the partial-merge PATCH with validation.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use std::collections::BTreeMap;

use super::templates::{MailKind, TemplateOverride};
use super::types::{Domain, Email, FieldError};
use super::urls::{self, Http, UrlError, UrlRules};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RejectAction {
    /// A rejected developer stays, in state `rejected`.
    #[default]
    Keep,
    /// Rejection deletes the account.
    Delete,
}

/// Every setting of a portal, with the defaults of the HTTP contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortalSettings {
    pub auto_approve: bool,
    #[serde(serialize_with = "ser_domains", deserialize_with = "de_domains")]
    pub trusted_domains: Vec<Domain>,
    pub self_registration: bool,
    pub reject_action: RejectAction,
    pub admin_emails: Vec<String>,
    pub email_from: Option<String>,
    pub portal_url: Option<String>,
    pub invite_email: bool,
    pub access_request_email: bool,
    pub approved_email: bool,
    pub reset_email: bool,
    pub reset_success_email: bool,
    pub reset_token_ttl_seconds: u64,
    pub invite_ttl_seconds: u64,
    pub temporary_password_ttl_seconds: u64,
    /// A self-registered developer must confirm the address before signing in (until then
    /// login answers the generic 401), and every auto-approval waits for the confirmation
    /// [true]. Invited developers are confirmed by the invite; developers an admin created
    /// with a one-time password are exempt.
    pub require_verified_email: bool,
    /// `password_changed_email` [true]: a change through `/me/password` mails the developer.
    pub password_changed_email: bool,
    /// Per-portal anti-automation limits, lower than the deployment's (unset: the deployment's).
    pub rate_limits: RateLimitOverrides,
    /// `verification_token_ttl_seconds` [604800]: how long an email-verification link works.
    pub verification_token_ttl_seconds: u64,
    /// Per-email overrides of subject, text and HTML, keyed by mail name
    /// (access_request, approved, registration_attempted, invite, reset, reset_success,
    /// verification).
    pub email_templates: BTreeMap<String, TemplateOverride>,
    /// `audit_retention_days` [90, at most 400]: how long the portal's events are kept (the
    /// audit trail). Stored only once set, so portals written before it read back unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_retention_days: Option<u16>,
    /// `brand_color` [none]: `#rrggbb` (lower case), the pages' brand colour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand_color: Option<String>,
    /// `logo_url` [none]: an `https` image URL (http only on loopback) for the pages' header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
}

impl PortalSettings {
    pub fn audit_retention_days(&self) -> u16 {
        self.audit_retention_days.unwrap_or(super::audit::AUDIT_RETENTION_DEFAULT_DAYS)
    }
}

/// A brand colour: `#rrggbb` in lower case, nothing else.
pub fn parse_brand_color(raw: &str) -> Result<String, String> {
    let hex = raw.strip_prefix('#').unwrap_or_default();
    if hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(raw.to_string())
    } else {
        Err("must be a colour #rrggbb in lower-case hexadecimal".into())
    }
}

/// A logo URL: `https` (`http` only for a loopback host), at most 2048 characters, without
/// spaces, quotes or angle brackets.
pub fn parse_logo_url(raw: &str) -> Result<String, String> {
    let rules = UrlRules { http: Http::Loopback, query: true, fragment: true, max_len: 2048 };
    urls::parse(raw, rules)
        .map(|u| u.raw)
        .map_err(|_| "must be an https URL of an image (http only on 127.0.0.1 or localhost), at most 2048 characters".to_string())
}

impl Default for PortalSettings {
    fn default() -> Self {
        Self {
            auto_approve: false,
            trusted_domains: Vec::new(),
            self_registration: true,
            reject_action: RejectAction::Keep,
            admin_emails: Vec::new(),
            email_from: None,
            portal_url: None,
            invite_email: true,
            access_request_email: true,
            approved_email: true,
            reset_email: true,
            reset_success_email: true,
            reset_token_ttl_seconds: 21_600,
            invite_ttl_seconds: 604_800,
            temporary_password_ttl_seconds: 604_800,
            require_verified_email: true,
            password_changed_email: true,
            rate_limits: RateLimitOverrides::default(),
            verification_token_ttl_seconds: 604_800,
            email_templates: BTreeMap::new(),
            audit_retention_days: None,
            brand_color: None,
            logo_url: None,
        }
    }
}

fn ser_domains<S: Serializer>(v: &[Domain], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(Domain::as_str))
}

fn de_domains<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Domain>, D::Error> {
    let raw = Vec::<String>::deserialize(d)?;
    raw.iter().map(|s| Domain::parse(s).map_err(serde::de::Error::custom)).collect()
}

/// A settings change as a client sends it: every field optional, unknown fields refused.
/// Values arrive raw and are validated by [`SettingsPatch::apply`], which names each bad field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    pub auto_approve: Option<bool>,
    pub trusted_domains: Option<Vec<String>>,
    pub self_registration: Option<bool>,
    pub reject_action: Option<RejectAction>,
    pub admin_emails: Option<Vec<String>>,
    #[serde(default, deserialize_with = "de_nullable")]
    pub email_from: Option<Option<String>>,
    #[serde(default, deserialize_with = "de_nullable")]
    pub portal_url: Option<Option<String>>,
    pub invite_email: Option<bool>,
    pub access_request_email: Option<bool>,
    pub approved_email: Option<bool>,
    pub reset_email: Option<bool>,
    pub reset_success_email: Option<bool>,
    pub reset_token_ttl_seconds: Option<u64>,
    pub invite_ttl_seconds: Option<u64>,
    pub temporary_password_ttl_seconds: Option<u64>,
    pub require_verified_email: Option<bool>,
    pub password_changed_email: Option<bool>,
    /// Merged per limit; `null` for a limit goes back to the deployment's.
    pub rate_limits: Option<RateLimitPatch>,
    pub verification_token_ttl_seconds: Option<u64>,
    /// Merged per mail; `null` for a mail removes its override.
    pub email_templates: Option<BTreeMap<String, Option<TemplateOverride>>>,
    pub audit_retention_days: Option<u64>,
    #[serde(default, deserialize_with = "de_nullable")]
    pub brand_color: Option<Option<String>>,
    #[serde(default, deserialize_with = "de_nullable")]
    pub logo_url: Option<Option<String>>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn de_nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

const MAX_LIST: usize = 50;
const TTL_RANGE: std::ops::RangeInclusive<u64> = 60..=31_536_000;

impl SettingsPatch {
    /// Merges this patch into `settings`, or names every field that is invalid.
    /// `prefix` is prepended to field names (`settings.` when nested in a portal body).
    /// `check_template` names the problems of an email template override (part, message):
    /// the template language's policy lives with the renderer, outside the domain.
    pub fn apply(
        self,
        mut settings: PortalSettings,
        prefix: &str,
        check_template: impl Fn(&TemplateOverride) -> Vec<(&'static str, String)>,
    ) -> Result<PortalSettings, Vec<FieldError>> {
        let mut errors = Vec::new();
        let field = |name: &str| format!("{prefix}{name}");

        if let Some(v) = self.auto_approve {
            settings.auto_approve = v;
        }
        if let Some(list) = self.trusted_domains {
            if list.len() > MAX_LIST {
                errors.push(FieldError::new(field("trusted_domains"), format!("must list at most {MAX_LIST} domains")));
            }
            let mut domains = Vec::new();
            for (i, raw) in list.iter().enumerate() {
                match Domain::parse(raw.trim_start_matches("*.").trim_start_matches('@')) {
                    Ok(d) if !domains.contains(&d) => domains.push(d),
                    Ok(_) => {}
                    Err(m) => errors.push(FieldError::new(format!("{}[{i}]", field("trusted_domains")), m)),
                }
            }
            settings.trusted_domains = domains;
        }
        if let Some(v) = self.self_registration {
            settings.self_registration = v;
        }
        if let Some(v) = self.reject_action {
            settings.reject_action = v;
        }
        if let Some(list) = self.admin_emails {
            if list.len() > MAX_LIST {
                errors.push(FieldError::new(field("admin_emails"), format!("must list at most {MAX_LIST} addresses")));
            }
            let mut emails: Vec<String> = Vec::new();
            for (i, raw) in list.iter().enumerate() {
                match Email::parse(raw) {
                    Ok(e) if !emails.iter().any(|x| x.eq_ignore_ascii_case(e.as_str())) => emails.push(e.as_str().to_string()),
                    Ok(_) => {}
                    Err(m) => errors.push(FieldError::new(format!("{}[{i}]", field("admin_emails")), m)),
                }
            }
            settings.admin_emails = emails;
        }
        if let Some(v) = self.email_from {
            settings.email_from = match v.map(|s| Email::parse(&s)) {
                None => None,
                Some(Ok(e)) => Some(e.as_str().to_string()),
                Some(Err(m)) => {
                    errors.push(FieldError::new(field("email_from"), m));
                    None
                }
            };
        }
        if let Some(v) = self.portal_url {
            settings.portal_url = match v {
                None => None,
                Some(url) => match parse_base_url(&url) {
                    Ok(u) => Some(u),
                    Err(m) => {
                        errors.push(FieldError::new(field("portal_url"), m));
                        None
                    }
                },
            };
        }
        for (name, value, target, parse) in [
            ("brand_color", self.brand_color, &mut settings.brand_color, parse_brand_color as fn(&str) -> Result<String, String>),
            ("logo_url", self.logo_url, &mut settings.logo_url, parse_logo_url),
        ] {
            if let Some(v) = value {
                *target = match v.map(|raw| parse(&raw)) {
                    None => None,
                    Some(Ok(v)) => Some(v),
                    Some(Err(m)) => {
                        errors.push(FieldError::new(field(name), m));
                        None
                    }
                };
            }
        }
        for (value, target) in [
            (self.invite_email, &mut settings.invite_email),
            (self.access_request_email, &mut settings.access_request_email),
            (self.approved_email, &mut settings.approved_email),
            (self.reset_email, &mut settings.reset_email),
            (self.reset_success_email, &mut settings.reset_success_email),
            (self.require_verified_email, &mut settings.require_verified_email),
            (self.password_changed_email, &mut settings.password_changed_email),
        ] {
            if let Some(v) = value {
                *target = v;
            }
        }
        for (name, value, target) in [
            ("reset_token_ttl_seconds", self.reset_token_ttl_seconds, &mut settings.reset_token_ttl_seconds),
            ("invite_ttl_seconds", self.invite_ttl_seconds, &mut settings.invite_ttl_seconds),
            ("temporary_password_ttl_seconds", self.temporary_password_ttl_seconds, &mut settings.temporary_password_ttl_seconds),
            ("verification_token_ttl_seconds", self.verification_token_ttl_seconds, &mut settings.verification_token_ttl_seconds),
        ] {
            if let Some(v) = value {
                if TTL_RANGE.contains(&v) {
                    *target = v;
                } else {
                    errors.push(FieldError::new(
                        field(name),
                        format!("must be between {} and {} seconds", TTL_RANGE.start(), TTL_RANGE.end()),
                    ));
                }
            }
        }
        if let Some(days) = self.audit_retention_days {
            let max = super::audit::AUDIT_RETENTION_MAX_DAYS;
            match u16::try_from(days) {
                Ok(d) if (1..=max).contains(&d) => settings.audit_retention_days = Some(d),
                _ => errors.push(FieldError::new(field("audit_retention_days"), format!("must be a whole number of days from 1 to {max}"))),
            }
        }
        if let Some(limits) = self.rate_limits {
            errors.extend(limits.apply(&mut settings.rate_limits, &field("rate_limits")));
        }
        if let Some(templates) = self.email_templates {
            for (name, o) in templates {
                let at = format!("{}.{name}", field("email_templates"));
                if MailKind::from_name(&name).is_none() {
                    let known: Vec<&str> = MailKind::ALL.iter().map(|k| k.name()).collect();
                    errors.push(FieldError::new(at, format!("is not an email Gatehouse sends (one of {})", known.join(", "))));
                    continue;
                }
                match o {
                    None => {
                        settings.email_templates.remove(&name);
                    }
                    Some(o) => {
                        let problems = check_template(&o);
                        if problems.is_empty() {
                            settings.email_templates.insert(name, o);
                        } else {
                            for (part, msg) in problems {
                                errors.push(FieldError::new(format!("{at}.{part}"), msg));
                            }
                        }
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(settings)
        } else {
            Err(errors)
        }
    }
}

/// A portal's own anti-automation limits (attempts per clock hour). Each may only lower the
/// deployment's limit (`GATEHOUSE_*_LIMIT_PER_*`): a higher value is capped at it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitOverrides {
    /// Registrations from one client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub register_per_client: Option<u64>,
    /// Registrations in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub register_per_portal: Option<u64>,
    /// Sign-in attempts from one client (all accounts together).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_per_client: Option<u64>,
    /// Sign-in attempts in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_per_portal: Option<u64>,
}

impl RateLimitOverrides {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A change of the rate limits: absent keeps a limit, `null` removes the portal's own.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitPatch {
    #[serde(default, deserialize_with = "de_nullable")]
    pub register_per_client: Option<Option<u64>>,
    #[serde(default, deserialize_with = "de_nullable")]
    pub register_per_portal: Option<Option<u64>>,
    #[serde(default, deserialize_with = "de_nullable")]
    pub login_per_client: Option<Option<u64>>,
    #[serde(default, deserialize_with = "de_nullable")]
    pub login_per_portal: Option<Option<u64>>,
}

const RATE_LIMIT_RANGE: std::ops::RangeInclusive<u64> = 1..=1_000_000;

impl RateLimitPatch {
    fn apply(self, limits: &mut RateLimitOverrides, at: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for (name, value, target) in [
            ("register_per_client", self.register_per_client, &mut limits.register_per_client),
            ("register_per_portal", self.register_per_portal, &mut limits.register_per_portal),
            ("login_per_client", self.login_per_client, &mut limits.login_per_client),
            ("login_per_portal", self.login_per_portal, &mut limits.login_per_portal),
        ] {
            match value {
                None => {}
                Some(None) => *target = None,
                Some(Some(v)) if RATE_LIMIT_RANGE.contains(&v) => *target = Some(v),
                Some(Some(_)) => errors.push(FieldError::new(
                    format!("{at}.{name}"),
                    format!("must be a number of attempts per hour from {} to {}", RATE_LIMIT_RANGE.start(), RATE_LIMIT_RANGE.end()),
                )),
            }
        }
        errors
    }
}

/// An absolute http(s) URL without credentials, query or fragment, stored without a trailing
/// slash.
pub fn parse_base_url(raw: &str) -> Result<String, String> {
    let rules = UrlRules { http: Http::Anywhere, query: false, fragment: false, max_len: 2048 };
    match urls::parse(raw, rules) {
        Ok(u) => Ok(u.raw.trim_end_matches('/').to_string()),
        Err(UrlError::Malformed | UrlError::Scheme) => Err("must be an absolute http(s) URL such as https://portal.example.com".into()),
        Err(_) => Err("must be an absolute http(s) URL such as https://portal.example.com, without credentials, query or fragment".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_brand_colour_is_lower_case_rrggbb_and_a_logo_an_https_url() {
        assert_eq!(parse_brand_color("#0f766e").as_deref(), Ok("#0f766e"));
        for bad in ["#0F766E", "0f766e", "#0f766", "#0f766e0", "#zzzzzz", "red", ""] {
            assert!(parse_brand_color(bad).is_err(), "{bad}");
        }
        assert!(parse_logo_url("https://cdn.acme.example/logo.svg").is_ok());
        assert!(parse_logo_url("http://127.0.0.1:9001/logo.png").is_ok(), "http on loopback, locally");
        for bad in [
            "http://cdn.acme.example/l.png",
            "javascript:alert(1)",
            "https://",
            "https://a.example/x y",
            "https://a.example/\"x",
            "https://user@evil.example/l.png",
            "http://127.0.0.1.nip.io/l.png",
            "data:image/png;base64,AAAA",
        ] {
            assert!(parse_logo_url(bad).is_err(), "{bad}");
        }
        let patch: SettingsPatch = serde_json::from_str(r##"{"brand_color": "#ABCDEF", "logo_url": "ftp://x"}"##).unwrap();
        let errors = patch.apply(PortalSettings::default(), "settings.", no_template_problems).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["settings.brand_color", "settings.logo_url"]);
    }

    fn no_template_problems(_: &TemplateOverride) -> Vec<(&'static str, String)> {
        vec![]
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = PortalSettings::default();
        assert!(!s.auto_approve && s.self_registration && s.invite_email && s.access_request_email);
        assert!(s.approved_email && s.reset_email && s.reset_success_email);
        assert_eq!(s.reject_action, RejectAction::Keep);
        assert_eq!((s.reset_token_ttl_seconds, s.invite_ttl_seconds, s.temporary_password_ttl_seconds), (21_600, 604_800, 604_800));
    }

    #[test]
    fn verified_email_is_required_and_password_changes_are_mailed_by_default() {
        let s = PortalSettings::default();
        assert!(s.require_verified_email, "v2: self-registered developers confirm their address before signing in");
        assert!(s.password_changed_email);
        assert!(s.rate_limits.is_empty());
        // A portal stored before the settings existed reads with the same defaults.
        let old: PortalSettings = serde_json::from_str("{}").unwrap();
        assert!(old.require_verified_email && old.password_changed_email);
    }

    #[test]
    fn audit_retention_is_90_days_by_default_at_most_400_and_stored_only_once_set() {
        let s = PortalSettings::default();
        assert_eq!(s.audit_retention_days(), 90);
        assert!(serde_json::to_value(&s).unwrap().get("audit_retention_days").is_none(), "old portals read back unchanged");
        let patch: SettingsPatch = serde_json::from_str(r#"{"audit_retention_days": 400}"#).unwrap();
        assert_eq!(patch.apply(s.clone(), "", no_template_problems).unwrap().audit_retention_days(), 400);
        for bad in ["0", "401", "70000"] {
            let patch: SettingsPatch = serde_json::from_str(&format!(r#"{{"audit_retention_days": {bad}}}"#)).unwrap();
            let errors = patch.apply(s.clone(), "settings.", no_template_problems).unwrap_err();
            assert_eq!(errors[0].field, "settings.audit_retention_days", "{bad}");
        }
    }

    #[test]
    fn rate_limits_merge_per_limit_null_removes_one_and_out_of_range_is_named() {
        let patch: SettingsPatch = serde_json::from_str(r#"{"rate_limits": {"register_per_client": 3, "login_per_portal": 50}}"#).unwrap();
        let s = patch.apply(PortalSettings::default(), "", no_template_problems).unwrap();
        assert_eq!((s.rate_limits.register_per_client, s.rate_limits.login_per_portal), (Some(3), Some(50)));
        let patch: SettingsPatch = serde_json::from_str(r#"{"rate_limits": {"register_per_client": null}}"#).unwrap();
        let s = patch.apply(s, "", no_template_problems).unwrap();
        assert_eq!((s.rate_limits.register_per_client, s.rate_limits.login_per_portal), (None, Some(50)), "the other stays");
        let patch: SettingsPatch = serde_json::from_str(r#"{"rate_limits": {"login_per_client": 0}}"#).unwrap();
        let errors = patch.apply(s, "settings.", no_template_problems).unwrap_err();
        assert_eq!(errors[0].field, "settings.rate_limits.login_per_client");
        assert!(serde_json::from_str::<SettingsPatch>(r#"{"rate_limits": {"login_per_day": 3}}"#).is_err());
    }

    #[test]
    fn a_patch_merges_only_the_fields_it_names() {
        let patch: SettingsPatch =
            serde_json::from_str(r#"{"auto_approve": true, "trusted_domains": ["Acme.com", "*.partner.io", "acme.com"]}"#).unwrap();
        let s = patch.apply(PortalSettings::default(), "", no_template_problems).unwrap();
        assert!(s.auto_approve);
        assert_eq!(s.trusted_domains.iter().map(Domain::as_str).collect::<Vec<_>>(), ["acme.com", "partner.io"]);
        assert!(s.self_registration, "untouched fields keep their value");
    }

    #[test]
    fn a_patch_names_every_invalid_field() {
        let patch: SettingsPatch = serde_json::from_str(
            r#"{"trusted_domains": ["not a domain"], "admin_emails": ["ok@example.com", "nope"], "portal_url": "ftp://x", "invite_ttl_seconds": 1}"#,
        )
        .unwrap();
        let errors = patch.apply(PortalSettings::default(), "settings.", no_template_problems).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["settings.trusted_domains[0]", "settings.admin_emails[1]", "settings.portal_url", "settings.invite_ttl_seconds"]
        );
    }

    #[test]
    fn unknown_settings_are_refused() {
        assert!(serde_json::from_str::<SettingsPatch>(r#"{"auto_aprove": true}"#).is_err());
    }

    #[test]
    fn null_clears_an_optional_setting() {
        let base = SettingsPatch { portal_url: Some(Some("https://p.example.com/".into())), ..Default::default() }
            .apply(PortalSettings::default(), "", no_template_problems)
            .unwrap();
        assert_eq!(base.portal_url.as_deref(), Some("https://p.example.com"));
        let patch: SettingsPatch = serde_json::from_str(r#"{"portal_url": null}"#).unwrap();
        assert_eq!(patch.apply(base, "", no_template_problems).unwrap().portal_url, None);
    }

    #[test]
    fn stored_settings_round_trip_through_json() {
        let s = SettingsPatch { trusted_domains: Some(vec!["acme.com".into()]), ..Default::default() }
            .apply(PortalSettings::default(), "", no_template_problems)
            .unwrap();
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["trusted_domains"], serde_json::json!(["acme.com"]));
        assert_eq!(serde_json::from_value::<PortalSettings>(json).unwrap(), s);
    }
}

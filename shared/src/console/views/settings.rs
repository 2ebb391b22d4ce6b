//! The Settings tab: every portal setting the PATCH route takes, read from the form and shown
//! with its current value and the use case's errors beside.

use serde_json::{json, Map, Value};

use super::field_errors;
use crate::domain::FieldError;
use crate::error::AppError;
use crate::pages::web::Form;
use crate::throttle::RateLimits;

/// How a setting is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Switch,
    /// One entry per line (a list of strings).
    Lines,
    /// Text that may be cleared (`null`).
    Text,
    Seconds,
    /// A number that may be left empty (the default).
    OptionalNumber,
    RejectAction,
    /// A per-hour limit of `settings.rate_limits` (the form's name is `rate_limit_<key>`): empty
    /// goes back to the deployment's, and a portal can only lower it.
    RateLimit,
}

/// Every setting of `PATCH /api/portals/{id}` the form edits: `(name, label, kind, hint)`.
const SETTINGS: [(&str, &str, Kind, Option<&str>); 25] = [
    ("auto_approve", "Approve every registration automatically", Kind::Switch, None),
    (
        "trusted_domains",
        "Trusted email domains",
        Kind::Lines,
        Some("One per line: registrations from these domains are approved automatically."),
    ),
    ("self_registration", "Developers can register themselves", Kind::Switch, None),
    ("reject_action", "When a developer is rejected", Kind::RejectAction, None),
    ("admin_emails", "Administrators' email addresses", Kind::Lines, Some("One per line: they get the access-request emails.")),
    ("email_from", "Sender address", Kind::Text, Some("An address of a verified sender domain; empty: the deployment's.")),
    ("portal_url", "Portal URL", Kind::Text, Some("Where the emails' links lead (https); empty: these pages.")),
    ("invite_email", "Invite by emailed link", Kind::Switch, None),
    ("access_request_email", "Email administrators about access requests", Kind::Switch, None),
    ("approved_email", "Email developers when they are approved", Kind::Switch, None),
    ("reset_email", "Send password reset links", Kind::Switch, None),
    ("reset_success_email", "Email developers when their password was reset", Kind::Switch, None),
    ("password_changed_email", "Email developers when their password was changed", Kind::Switch, None),
    ("require_verified_email", "Require a confirmed email address before sign-in", Kind::Switch, None),
    ("reset_token_ttl_seconds", "Reset link lifetime in seconds", Kind::Seconds, None),
    ("invite_ttl_seconds", "Invite link lifetime in seconds", Kind::Seconds, None),
    ("temporary_password_ttl_seconds", "One-time password lifetime in seconds", Kind::Seconds, None),
    ("verification_token_ttl_seconds", "Confirmation link lifetime in seconds", Kind::Seconds, None),
    ("audit_retention_days", "Keep the audit log for (days)", Kind::OptionalNumber, Some("At most 400; empty: 90.")),
    ("brand_color", "Brand colour", Kind::Text, Some("#rrggbb in lower case; empty: the default colour.")),
    ("logo_url", "Logo URL", Kind::Text, Some("An https image URL; empty: the initial.")),
    ("rate_limit_register_per_client", "Registrations per hour from one client", Kind::RateLimit, None),
    ("rate_limit_register_per_portal", "Registrations per hour in all", Kind::RateLimit, None),
    ("rate_limit_login_per_client", "Sign-in attempts per hour from one client", Kind::RateLimit, None),
    ("rate_limit_login_per_portal", "Sign-in attempts per hour in all", Kind::RateLimit, None),
];

/// `rate_limit_<key>` -> `<key>` of `settings.rate_limits`.
fn rate_limit_key(name: &str) -> Option<&str> {
    name.strip_prefix("rate_limit_")
}

/// The deployment's limit that an empty field goes back to.
fn deployment_limit(limits: &RateLimits, key: &str) -> u64 {
    match key {
        "register_per_client" => limits.register_per_client,
        "register_per_portal" => limits.register_per_portal,
        "login_per_client" => limits.login_per_client,
        _ => limits.login_per_portal,
    }
}

/// The settings form read into the `settings` object of the PATCH route's body. Numbers that
/// are not numbers are named here; everything else is the use case's to judge.
pub fn settings_patch(form: &Form) -> Result<Value, Vec<FieldError>> {
    let mut out = Map::new();
    let mut limits = Map::new();
    let mut errors = vec![];
    for (name, label, kind, _) in SETTINGS {
        let raw = form.get(name).trim();
        if let (Kind::RateLimit, Some(key)) = (kind, rate_limit_key(name)) {
            match raw.parse::<u64>() {
                _ if raw.is_empty() => {
                    limits.insert(key.into(), Value::Null);
                }
                Ok(n) => {
                    limits.insert(key.into(), n.into());
                }
                Err(_) => errors.push(FieldError::new(format!("settings.rate_limits.{key}"), format!("must be a whole number ({label})"))),
            }
            continue;
        }
        let value = match kind {
            Kind::Switch => Value::Bool(!raw.is_empty()),
            Kind::Lines => Value::Array(raw.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| Value::String(l.into())).collect()),
            Kind::Text if raw.is_empty() => Value::Null,
            Kind::Text | Kind::RejectAction => Value::String(raw.into()),
            Kind::OptionalNumber if raw.is_empty() => continue,
            Kind::Seconds | Kind::OptionalNumber | Kind::RateLimit => match raw.parse::<u64>() {
                Ok(n) => n.into(),
                Err(_) => {
                    errors.push(FieldError::new(format!("settings.{name}"), format!("must be a whole number ({label})")));
                    continue;
                }
            },
        };
        out.insert(name.into(), value);
    }
    out.insert("rate_limits".into(), Value::Object(limits));
    if errors.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(errors)
    }
}

/// The settings use case's field errors (`settings.<name>`) next to the form's fields.
pub fn settings_errors(e: &AppError) -> (Vec<(String, String)>, Vec<Value>) {
    let labels: Vec<(&str, &str)> = SETTINGS.iter().map(|(n, l, _, _)| (*n, *l)).collect();
    field_errors(e, &labels, |f| {
        let name = f.strip_prefix("settings.").unwrap_or(f);
        if let Some(key) = name.strip_prefix("rate_limits.") {
            let name = format!("rate_limit_{key}");
            return (name.clone(), format!("f-{name}"));
        }
        let name = name.split(['.', '[']).next().unwrap_or(name).to_string();
        let target = format!("f-{name}");
        (name, target)
    })
}

/// The Settings tab: every setting with its current value (or the value posted), errors beside.
pub fn settings_section(
    base: &str,
    portal: &crate::domain::Portal,
    deployment: &RateLimits,
    posted: Option<&Form>,
    errors: &[(String, String)],
) -> Value {
    let current = serde_json::to_value(&portal.settings).unwrap_or_default();
    let fields: Vec<Value> = SETTINGS
        .iter()
        .map(|(name, label, kind, hint)| {
            let limit = rate_limit_key(name).filter(|_| *kind == Kind::RateLimit);
            let stored = match limit {
                Some(key) => &current["rate_limits"][key],
                None => &current[*name],
            };
            let mut f = json!({ "name": name, "label": label });
            match kind {
                Kind::Switch => {
                    f["type"] = "checkbox".into();
                    f["checked"] = posted.map_or(stored.as_bool().unwrap_or(false), |p| !p.get(name).is_empty()).into();
                }
                Kind::Lines => {
                    f["type"] = "textarea".into();
                    f["rows"] = 3.into();
                    let text = stored.as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n")).unwrap_or_default();
                    f["value"] = posted.map_or(text, |p| p.get(name).to_string()).into();
                }
                Kind::RejectAction => {
                    f["type"] = "select".into();
                    f["options"] = json!([{ "value": "keep", "label": "Keep the account, rejected" }, { "value": "delete", "label": "Delete the account" }]);
                    f["value"] = posted.map_or(stored.as_str().unwrap_or("keep").to_string(), |p| p.get(name).to_string()).into();
                }
                _ => {
                    f["type"] = if matches!(kind, Kind::Text) { "text" } else { "number" }.into();
                    if !matches!(kind, Kind::Text) {
                        f["inputmode"] = "numeric".into();
                    }
                    let text = match stored {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => String::new(),
                    };
                    f["value"] = posted.map_or(text, |p| p.get(name).to_string()).into();
                    f["optional"] = (!matches!(kind, Kind::Seconds)).into();
                }
            }
            if let Some(h) = hint {
                f["hint"] = (*h).into();
            }
            if let Some(key) = limit {
                let d = deployment_limit(deployment, key);
                f["hint"] = format!("Empty: the deployment's {d}. A portal can only lower it: a higher number counts as {d}.").into();
            }
            if let Some((_, e)) = errors.iter().find(|(n, _)| n == name) {
                f["error"] = e.clone().into();
            }
            f
        })
        .collect();
    json!({ "action": format!("{base}/settings"), "fields": fields, "templates": super::templates::templates_url(base) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> Form {
        Form::parse(body.as_bytes())
    }

    #[test]
    fn the_settings_form_becomes_the_patch_routes_settings_with_unchecked_switches_false() {
        let f = form("auto_approve=on&trusted_domains=acme.com%0D%0A%0D%0A+beta.io+&reject_action=delete&email_from=&reset_token_ttl_seconds=3600&invite_ttl_seconds=600&temporary_password_ttl_seconds=900&verification_token_ttl_seconds=86400&brand_color=%230f766e");
        let v = settings_patch(&f).unwrap();
        assert_eq!(v["auto_approve"], true);
        assert_eq!(v["self_registration"], false, "an unchecked box is absent from the form");
        assert_eq!(v["trusted_domains"], json!(["acme.com", "beta.io"]));
        assert_eq!(v["reject_action"], "delete");
        assert_eq!(v["email_from"], Value::Null, "an emptied text setting is cleared");
        assert_eq!(v["reset_token_ttl_seconds"], 3600);
        assert!(v.get("audit_retention_days").is_none(), "an empty optional number keeps the stored value");
        assert_eq!(v["brand_color"], "#0f766e");
        let patch: crate::portals::PortalPatch = serde_json::from_value(json!({ "settings": v })).expect("the route's body");
        assert!(patch.settings.is_some());
    }

    #[test]
    fn rate_limits_are_read_per_limit_with_an_empty_one_going_back_to_the_deployments() {
        const TTLS: &str = "reset_token_ttl_seconds=3600&invite_ttl_seconds=600&temporary_password_ttl_seconds=900&verification_token_ttl_seconds=86400&reject_action=keep";
        let v = settings_patch(&form(&format!("{TTLS}&rate_limit_login_per_client=5&rate_limit_register_per_portal="))).unwrap();
        assert_eq!(v["rate_limits"]["login_per_client"], 5);
        assert_eq!(v["rate_limits"]["register_per_portal"], Value::Null, "empty clears the portal's own limit");
        let patch: crate::portals::PortalPatch = serde_json::from_value(json!({ "settings": v })).expect("the route's body");
        let rl = patch.settings.unwrap().rate_limits.unwrap();
        assert_eq!((rl.login_per_client, rl.register_per_portal), (Some(Some(5)), Some(None)));
        let errs = settings_patch(&form(&format!("{TTLS}&rate_limit_login_per_portal=lots"))).unwrap_err();
        let (by_field, _) = settings_errors(&AppError::Invalid(errs));
        assert!(by_field
            .iter()
            .any(|(n, m)| n == "rate_limit_login_per_portal" && m.starts_with("Sign-in attempts per hour in all must be")));
        let range = AppError::Invalid(vec![FieldError::new("settings.rate_limits.login_per_client", "must be from 1")]);
        assert_eq!(settings_errors(&range).0[0].0, "rate_limit_login_per_client", "the use case's error lands at its field");
    }

    #[test]
    fn a_rate_limit_shows_the_portals_value_or_the_deployments_as_its_hint() {
        let mut portal = crate::fakes::portal(Default::default());
        portal.settings.rate_limits.login_per_client = Some(7);
        let s = settings_section("/b", &portal, &RateLimits::default(), None, &[]);
        let field = |n: &str| s["fields"].as_array().unwrap().iter().find(|f| f["name"] == n).unwrap().clone();
        assert_eq!(field("rate_limit_login_per_client")["value"], "7");
        assert_eq!(field("rate_limit_login_per_portal")["value"], "");
        assert!(field("rate_limit_login_per_portal")["hint"].as_str().unwrap().contains("deployment's 10000"));
    }

    #[test]
    fn a_number_that_is_not_one_is_named_at_its_field() {
        let errs = settings_patch(&form("invite_ttl_seconds=soon&reset_token_ttl_seconds=1")).unwrap_err();
        assert!(errs.iter().any(|e| e.field == "settings.invite_ttl_seconds"));
        let (by_field, summary) = settings_errors(&AppError::Invalid(errs));
        assert!(by_field.iter().any(|(n, m)| n == "invite_ttl_seconds" && m.starts_with("Invite link lifetime in seconds must be")));
        assert!(summary.iter().any(|s| s["target"] == "f-invite_ttl_seconds"));
    }
}

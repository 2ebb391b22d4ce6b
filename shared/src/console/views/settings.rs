//! The Settings tab: every portal setting the PATCH route takes, read from the form and shown
//! with its current value and the use case's errors beside.

use serde_json::{json, Map, Value};

use super::field_errors;
use crate::domain::FieldError;
use crate::error::AppError;
use crate::pages::web::Form;

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
}

/// Every setting of `PATCH /api/portals/{id}` the form edits: `(name, label, kind, hint)`.
const SETTINGS: [(&str, &str, Kind, Option<&str>); 21] = [
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
];

/// The settings form read into the `settings` object of the PATCH route's body. Numbers that
/// are not numbers are named here; everything else is the use case's to judge.
pub fn settings_patch(form: &Form) -> Result<Value, Vec<FieldError>> {
    let mut out = Map::new();
    let mut errors = vec![];
    for (name, label, kind, _) in SETTINGS {
        let raw = form.get(name).trim();
        let value = match kind {
            Kind::Switch => Value::Bool(!raw.is_empty()),
            Kind::Lines => Value::Array(raw.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| Value::String(l.into())).collect()),
            Kind::Text if raw.is_empty() => Value::Null,
            Kind::Text | Kind::RejectAction => Value::String(raw.into()),
            Kind::OptionalNumber if raw.is_empty() => continue,
            Kind::Seconds | Kind::OptionalNumber => match raw.parse::<u64>() {
                Ok(n) => n.into(),
                Err(_) => {
                    errors.push(FieldError::new(format!("settings.{name}"), format!("must be a whole number ({label})")));
                    continue;
                }
            },
        };
        out.insert(name.into(), value);
    }
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
        let name = name.split(['.', '[']).next().unwrap_or(name).to_string();
        let target = format!("f-{name}");
        (name, target)
    })
}

/// The Settings tab: every setting with its current value (or the value posted), errors beside.
pub fn settings_section(base: &str, portal: &crate::domain::Portal, posted: Option<&Form>, errors: &[(String, String)]) -> Value {
    let current = serde_json::to_value(&portal.settings).unwrap_or_default();
    let fields: Vec<Value> = SETTINGS
        .iter()
        .map(|(name, label, kind, hint)| {
            let stored = &current[*name];
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
            if let Some((_, e)) = errors.iter().find(|(n, _)| n == name) {
                f["error"] = e.clone().into();
            }
            f
        })
        .collect();
    json!({ "action": format!("{base}/settings"), "fields": fields })
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
    fn a_number_that_is_not_one_is_named_at_its_field() {
        let errs = settings_patch(&form("invite_ttl_seconds=soon&reset_token_ttl_seconds=1")).unwrap_err();
        assert!(errs.iter().any(|e| e.field == "settings.invite_ttl_seconds"));
        let (by_field, summary) = settings_errors(&AppError::Invalid(errs));
        assert!(by_field.iter().any(|(n, m)| n == "invite_ttl_seconds" && m.starts_with("Invite link lifetime in seconds must be")));
        assert!(summary.iter().any(|s| s["target"] == "f-invite_ttl_seconds"));
    }
}

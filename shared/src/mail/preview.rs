//! The preview of one mail of a portal (the console's email templates screen): the portal's
//! override, or a draft of one, or the built-in default, rendered with sample values. Pure.

use super::defaults::default_templates;
use super::policy::validate_override;
use super::render::render;
use super::{MailContext, MailKind, RenderedMail, TemplateOverride};
use crate::domain::{FieldError, Portal};
use crate::error::AppError;

/// The field a mail's part is named by, as the settings `PATCH` names it.
pub fn template_field(mail: &str, part: &str) -> String {
    format!("settings.email_templates.{mail}.{part}")
}

/// The built-in subject, text and HTML of a mail (what "Reset to default" brings back).
pub fn default_parts(kind: MailKind) -> (&'static str, &'static str, &'static str) {
    default_templates(kind)
}

/// The sample values a preview renders with: the portal's own name and links, a developer
/// "Ada Lovelace", a link and an expiry as the real mail would carry them.
pub fn sample_context(portal: &Portal, links_base: Option<&str>) -> MailContext {
    let base = links_base.unwrap_or("https://portal.example.com").trim_end_matches('/').to_string();
    MailContext {
        portal_name: portal.name.clone(),
        login_url: Some(format!("{base}/login")),
        link_url: Some(format!("{base}/invite?token=ghi_sample.token")),
        portal_url: Some(base),
        expires_at: Some("2030-01-31 12:00 UTC".into()),
        developer_name: "Ada Lovelace".into(),
        developer_email: "ada@example.com".into(),
        developer_username: Some("ada".into()),
        webhook_url: Some("https://hooks.example.com/gatehouse".into()),
        failing_since: Some("2030-01-26 12:00 UTC".into()),
    }
}

/// Renders `mail` for `portal` with sample values: the `draft` when one is given (what the
/// admin is typing; a missing part keeps the default), else the portal's stored override,
/// else the default. A draft is held to the same checks as the settings `PATCH`, and its
/// problems are the same field errors (`settings.email_templates.<mail>.<part>`); an unknown
/// mail is an error on `settings.email_templates.<mail>`.
pub fn preview(mail: &str, portal: &Portal, draft: Option<&TemplateOverride>, links_base: Option<&str>) -> Result<RenderedMail, AppError> {
    let Some(kind) = MailKind::from_name(mail) else {
        let known: Vec<&str> = MailKind::ALL.iter().map(|k| k.name()).collect();
        return Err(AppError::field(
            &format!("settings.email_templates.{mail}"),
            format!("is not an email Gatehouse sends (one of {})", known.join(", ")),
        ));
    };
    let custom = match draft {
        Some(d) => {
            let problems = validate_override(d);
            if !problems.is_empty() {
                return Err(AppError::Invalid(
                    problems.into_iter().map(|(part, m)| FieldError::new(template_field(mail, part), m)).collect(),
                ));
            }
            Some(d)
        }
        None => portal.settings.email_templates.get(mail),
    };
    render(kind, &sample_context(portal, links_base), custom).map_err(|e| AppError::field(&template_field(mail, e.part), e.reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PortalSettings;

    fn portal() -> Portal {
        let now = chrono::Utc::now();
        Portal {
            id: uuid::Uuid::new_v4(),
            name: "Acme APIs".into(),
            settings: PortalSettings::default(),
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    fn draft(subject: &str) -> TemplateOverride {
        TemplateOverride { subject: Some(subject.into()), text: None, html: Some("<p>Hi {{ developer_name }} & co</p>".into()) }
    }

    #[test]
    fn a_draft_renders_with_sample_values_and_keeps_the_default_for_its_missing_parts() {
        let m = preview("approved", &portal(), Some(&draft("Welcome to {{ portal_name }}, {{ developer_name }}")), None).unwrap();
        assert_eq!(m.subject, "Welcome to Acme APIs, Ada Lovelace");
        assert_eq!(m.html, "<p>Hi Ada Lovelace & co</p>");
        assert!(m.text.contains("has been approved") && m.text.contains("https://portal.example.com/login"), "{}", m.text);
    }

    #[test]
    fn without_a_draft_the_stored_override_or_else_the_default_is_shown() {
        let mut p = portal();
        assert!(preview("invite", &p, None, Some("https://dev.acme.com/")).unwrap().text.contains("https://dev.acme.com/invite?token="));
        p.settings.email_templates.insert("invite".into(), draft("Join {{ portal_name }}"));
        assert_eq!(preview("invite", &p, None, None).unwrap().subject, "Join Acme APIs");
    }

    #[test]
    fn a_bad_draft_gives_the_field_errors_the_settings_patch_gives() {
        let bad = TemplateOverride { subject: Some("Hi {{ developer_nmae }}".into()), text: Some("{% if %}".into()), html: None };
        let Err(AppError::Invalid(errs)) = preview("approved", &portal(), Some(&bad), None) else { panic!("expected field errors") };
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["settings.email_templates.approved.subject", "settings.email_templates.approved.text"]);
        // The same as the PATCH's.
        let patch: crate::domain::SettingsPatch = serde_json::from_value(
            serde_json::json!({"email_templates": {"approved": {"subject": "Hi {{ developer_nmae }}", "text": "{% if %}"}}}),
        )
        .unwrap();
        let from_patch = patch.apply(PortalSettings::default(), "settings.", validate_override).unwrap_err();
        assert_eq!(from_patch, errs);
    }

    #[test]
    fn an_unknown_mail_is_a_field_error_on_its_name() {
        let Err(AppError::Invalid(errs)) = preview("welcome", &portal(), None, None) else { panic!() };
        assert_eq!(errs[0].field, "settings.email_templates.welcome");
    }
}

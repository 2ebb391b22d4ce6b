//! The Email templates screens: the list of the mails Gatehouse sends, and one mail's subject,
//! text and HTML with its preview frame.

use serde_json::{json, Value};

use crate::domain::{MailKind, Portal, TemplateOverride};
use crate::error::AppError;
use crate::pages::web::Form;

/// The three parts of a mail, as the form names them and the settings PATCH takes them.
pub const PARTS: [(&str, &str); 3] = [("subject", "Subject"), ("text", "Plain text"), ("html", "HTML")];

/// A mail's name for people.
pub fn mail_label(kind: MailKind) -> &'static str {
    match kind {
        MailKind::AccessRequest => "Access request (to administrators)",
        MailKind::Approved => "Access approved",
        MailKind::RegistrationAttempted => "Registration attempted with a taken address",
        MailKind::Invite => "Invitation",
        MailKind::Reset => "Password reset link",
        MailKind::ResetSuccess => "Password was reset",
        MailKind::Verification => "Confirm your email address",
        MailKind::PasswordChanged => "Password was changed",
        MailKind::WebhookDisabled => "Webhook endpoint disabled (to administrators)",
    }
}

pub fn templates_url(base: &str) -> String {
    format!("{base}/templates")
}

/// The list: every mail, whether the portal overrides it, a link to edit it.
pub fn templates_list(base: &str, portal: &Portal) -> Value {
    let rows: Vec<Value> = MailKind::ALL
        .iter()
        .map(|k| {
            let custom = portal.settings.email_templates.contains_key(k.name());
            json!({ "id": k.name(), "href": format!("{}/{}", templates_url(base), k.name()), "cells": {
                "mail": mail_label(*k),
                "name": k.name(),
                "custom": if custom { "Customised" } else { "Default" } } })
        })
        .collect();
    json!({ "table": { "id": "templates", "caption": "Emails", "caption_hidden": true,
        "columns": [{ "key": "mail", "label": "Email" }, { "key": "name", "label": "Name" }, { "key": "custom", "label": "Template" }],
        "rows": rows }, "back": base })
}

/// The use case's `settings.email_templates.<mail>.<part>` errors at the editor's fields.
pub fn template_errors(e: &AppError, mail: &str) -> (Vec<(String, String)>, Vec<Value>) {
    let prefix = format!("settings.email_templates.{mail}.");
    super::field_errors(e, &PARTS, |f| {
        let part = f.strip_prefix(&prefix).unwrap_or("subject").to_string();
        let target = format!("f-{part}");
        (part, target)
    })
}

/// The form's draft: an empty part keeps the default (absent from the override).
pub fn draft(form: &Form) -> TemplateOverride {
    let part = |n: &str| Some(form.get(n).replace("\r\n", "\n")).filter(|v| !v.trim().is_empty());
    TemplateOverride { subject: part("subject"), text: part("text"), html: part("html") }
}

/// One mail's editor: its parts (the posted draft, else the portal's override, else the
/// default), errors at their fields, the preview frame and the actions.
pub fn template_editor(
    base: &str,
    kind: MailKind,
    stored: Option<&TemplateOverride>,
    defaults: (&str, &str, &str),
    posted: Option<&Form>,
    errors: &[(String, String)],
) -> Value {
    let action = format!("{}/{}", templates_url(base), kind.name());
    let fields: Vec<Value> = PARTS
        .iter()
        .zip([defaults.0, defaults.1, defaults.2])
        .map(|((part, label), default)| {
            let own = stored.and_then(|o| match *part {
                "subject" => o.subject.clone(),
                "text" => o.text.clone(),
                _ => o.html.clone(),
            });
            let value = posted.map_or_else(|| own.unwrap_or_else(|| default.to_string()), |f| f.get(part).to_string());
            let mut f = json!({ "name": part, "label": label, "value": value,
                "hint": "A template: {{ portal_name }}, {{ developer_name }}, {{ link_url }} and the other placeholders; empty: the default." });
            if *part == "subject" {
                f["hint"] = "Empty: the default.".into();
            } else {
                f["type"] = "textarea".into();
                f["rows"] = if *part == "html" { 10 } else { 8 }.into();
            }
            if let Some((_, e)) = errors.iter().find(|(n, _)| n == part) {
                f["error"] = e.clone().into();
            }
            f
        })
        .collect();
    json!({ "action": action, "preview_action": format!("{action}/preview"), "fields": fields,
        "label": mail_label(kind), "name": kind.name(), "custom": stored.is_some(), "back": templates_url(base) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mail_is_listed_with_whether_the_portal_overrides_it() {
        let mut portal = crate::fakes::portal(Default::default());
        portal.settings.email_templates.insert("invite".into(), TemplateOverride::default());
        let v = templates_list("/b", &portal);
        let rows = v["table"]["rows"].as_array().unwrap();
        assert_eq!(rows.len(), MailKind::ALL.len());
        let invite = rows.iter().find(|r| r["id"] == "invite").unwrap();
        assert_eq!(invite["cells"]["custom"], "Customised");
        assert_eq!(invite["href"], "/b/templates/invite");
        assert!(rows.iter().filter(|r| r["id"] != "invite").all(|r| r["cells"]["custom"] == "Default"));
    }

    #[test]
    fn an_empty_part_keeps_the_default_and_the_editor_shows_the_draft_before_the_stored_override() {
        let f = Form::parse(b"subject=Hi+%7B%7B+portal_name+%7D%7D&text=+&html=%3Cp%3Ex%3C%2Fp%3E");
        let d = draft(&f);
        assert_eq!((d.subject.as_deref(), d.text.as_deref(), d.html.as_deref()), (Some("Hi {{ portal_name }}"), None, Some("<p>x</p>")));
        let stored = TemplateOverride { subject: Some("Stored".into()), ..Default::default() };
        let e = template_editor("/b", MailKind::Invite, Some(&stored), ("S", "T", "H"), None, &[("text".into(), "is bad".into())]);
        let fields = e["fields"].as_array().unwrap();
        assert_eq!(
            (fields[0]["value"].as_str(), fields[1]["value"].as_str(), fields[2]["value"].as_str()),
            (Some("Stored"), Some("T"), Some("H"))
        );
        assert_eq!(fields[1]["error"], "is bad");
        assert_eq!(e["preview_action"], "/b/templates/invite/preview");
        let posted = template_editor("/b", MailKind::Invite, Some(&stored), ("S", "T", "H"), Some(&f), &[]);
        assert_eq!(posted["fields"][0]["value"], "Hi {{ portal_name }}", "what was typed is kept");
    }
}

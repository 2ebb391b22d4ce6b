//! The Webhooks tab (the endpoints and the Create webhook endpoint form), an endpoint's detail
//! page (settings, deliveries, actions, Replay) and the page that shows a secret once.

use serde_json::{json, Value};

use super::{day, field_errors, urlencoded};
use crate::domain::delivery::Delivery;
use crate::domain::webhooks::Webhook;
use crate::error::AppError;
use crate::pages::web::Form;
use crate::store::Page;

/// The fields of the create form: `(name, label)`, as the API names them.
const CREATE_FIELDS: [(&str, &str); 3] = [("url", "URL"), ("events", "Event types"), ("description", "Description")];
/// The fields of the Replay form.
const REPLAY_FIELDS: [(&str, &str); 2] = [("since", "Since"), ("until", "Until")];

/// The event patterns of the create form's text field: separated by commas, spaces or lines.
pub fn split_events(raw: &str) -> Vec<String> {
    raw.split([',', ' ', '\n', '\r', '\t']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// The API's body of a create from the form (`enabled` is a checkbox).
pub fn new_webhook(form: &Form) -> crate::webhooks::NewWebhook {
    crate::webhooks::NewWebhook {
        url: form.get("url").trim().to_string(),
        events: split_events(form.get("events")),
        description: form.optional("description"),
        enabled: Some(form.optional("enabled").is_some()),
    }
}

/// The create form's field errors (`name` → sentence) and the summary.
pub fn create_errors(e: &AppError) -> (Vec<(String, String)>, Vec<Value>) {
    field_errors(e, &CREATE_FIELDS, |f| {
        let name = f.split(['.', '[']).next().unwrap_or(f).to_string();
        (name.clone(), format!("f-webhook-{name}"))
    })
}

/// A `datetime-local` value (UTC, no offset) as the API's RFC 3339 time; anything else as typed.
pub fn replay_time(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let plain = raw.len() >= 16 && raw.as_bytes().get(10) == Some(&b'T') && !raw.ends_with('Z') && !raw[10..].contains(['+', '-']);
    Some(match (plain, raw.len()) {
        (true, 16) => format!("{raw}:00Z"),
        (true, _) => format!("{raw}Z"),
        _ => raw.to_string(),
    })
}

/// The Replay form's field errors and the summary.
pub fn replay_errors(e: &AppError) -> (Vec<(String, String)>, Vec<Value>) {
    field_errors(e, &REPLAY_FIELDS, |f| (f.to_string(), format!("f-replay-{f}")))
}

fn error_of(errors: &[(String, String)], name: &str) -> Option<String> {
    errors.iter().find(|(n, _)| n == name).map(|(_, t)| t.clone())
}

fn webhook_url(base: &str, w: &Webhook) -> String {
    format!("{base}/webhooks/{}", w.id)
}

/// The tab: the endpoints (each linking to its page) and the create form, with the values
/// posted and the API's errors beside the fields when a create failed.
pub fn webhooks(base: &str, hooks: &[Webhook], posted: Option<&Form>, errors: &[(String, String)]) -> Value {
    let rows: Vec<Value> = hooks
        .iter()
        .map(|w| {
            json!({ "id": w.id, "href": webhook_url(base, w), "cells": { "url": w.url, "events": w.events.join(", "),
                "description": w.description.clone().unwrap_or_default(), "enabled": if w.enabled { "Yes" } else { "No" } } })
        })
        .collect();
    let value = |name: &str, default: &str| posted.map(|f| f.get(name).to_string()).unwrap_or_else(|| default.to_string());
    let enabled = posted.map(|f| f.optional("enabled").is_some()).unwrap_or(true);
    let mut fields = vec![
        json!({ "name": "url", "label": "URL", "type": "url", "required": true, "autocomplete": "off", "id": "f-webhook-url",
            "hint": "https://, where the endpoint receives the signed events.", "value": value("url", "") }),
        json!({ "name": "events", "label": "Event types", "required": true, "autocomplete": "off", "id": "f-webhook-events",
            "hint": "Patterns separated by commas, for example developer.*, application.created or *.", "value": value("events", "developer.*") }),
        json!({ "name": "description", "label": "Description", "optional": true, "autocomplete": "off", "id": "f-webhook-description",
            "value": value("description", "") }),
        json!({ "name": "enabled", "label": "Enabled", "type": "checkbox", "checked": enabled, "id": "f-webhook-enabled" }),
    ];
    for f in &mut fields {
        if let Some(e) = error_of(errors, f["name"].as_str().unwrap_or_default()) {
            f["error"] = e.into();
        }
    }
    json!({
        "table": { "id": "webhooks", "caption": "Webhook endpoints", "caption_hidden": true,
            "columns": [{ "key": "url", "label": "URL" }, { "key": "events", "label": "Events" },
                        { "key": "description", "label": "Description" }, { "key": "enabled", "label": "Enabled" }],
            "rows": rows, "empty": "No webhook endpoints yet." },
        "create": { "action": format!("{base}/webhooks"), "fields": fields },
    })
}

/// The page that shows a secret once (after a create or a rotation).
pub fn secret_page(base: &str, w: &Webhook, secret: &str, rotated: bool) -> Value {
    let (title, text) = if rotated {
        (
            "New signing secret",
            "Copy the new secret now: it is shown only this once. The old secret keeps signing beside it for 24 hours, so update your receiver within that time.",
        )
    } else {
        (
            "Webhook endpoint created",
            "Copy the signing secret now: it is shown only this once. Your receiver checks each event's webhook-signature with it.",
        )
    };
    json!({ "title": title, "text": text, "url": w.url, "label": "Signing secret", "secret": secret,
        "next": { "label": "Go to the endpoint", "href": webhook_url(base, w) } })
}

fn time(t: &Option<crate::domain::Timestamp>) -> String {
    t.as_ref().map(day).unwrap_or_default()
}

/// The deliveries table's rows.
fn delivery_rows(items: &[Delivery]) -> Vec<Value> {
    items
        .iter()
        .map(|d| {
            let event_type = serde_json::to_value(d.event_type).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            let status = serde_json::to_value(d.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            let when = if d.delivered_at.is_some() { format!("Delivered {}", time(&d.delivered_at)) } else { time(&d.next_attempt_at) };
            json!({ "id": d.event_id, "cells": { "event": d.event_id.to_string(), "type": event_type, "status": status,
                "attempts": d.attempts.to_string(), "code": d.last_status_code.map(|c| c.to_string()).unwrap_or_default(),
                "error": d.last_error.clone().unwrap_or_default(), "when": when } })
        })
        .collect()
}

/// What the detail page shows beside the endpoint: the status filter, a replay just started,
/// the Replay form's values and errors.
#[derive(Default)]
pub struct Detail<'a> {
    pub status: Option<&'a str>,
    pub replay_id: Option<String>,
    pub posted: Option<&'a Form>,
    pub replay_errors: Vec<(String, String)>,
}

/// An endpoint's detail page.
pub fn webhook_detail(base: &str, w: &Webhook, deliveries: &Page<Delivery>, d: &Detail<'_>) -> Value {
    let url = webhook_url(base, w);
    let status = d.status.unwrap_or("");
    let next = deliveries.next_cursor.as_ref().map(|c| {
        let filter = if status.is_empty() { String::new() } else { format!("status={}&", urlencoded(status)) };
        format!("{url}?{filter}cursor={}", urlencoded(c))
    });
    let options: Vec<Value> = [("", "Any status"), ("pending", "Pending"), ("succeeded", "Succeeded"), ("failed", "Failed")]
        .iter()
        .map(|(v, l)| json!({ "value": v, "label": l }))
        .collect();
    let id = w.id.to_string();
    let toggle = if w.enabled {
        json!({ "label": "Disable", "kind": "secondary", "name": "disable", "value": id })
    } else {
        json!({ "label": "Enable", "kind": "secondary", "name": "enable", "value": id })
    };
    let value = |name: &str| d.posted.map(|f| f.get(name).to_string()).unwrap_or_default();
    let mut replay_fields = vec![
        json!({ "name": "since", "label": "Since", "type": "datetime-local", "required": true, "id": "f-replay-since", "value": value("since"),
            "hint": "In UTC. Events are kept for the portal's audit retention." }),
        json!({ "name": "until", "label": "Until", "type": "datetime-local", "required": true, "id": "f-replay-until", "value": value("until") }),
    ];
    for f in &mut replay_fields {
        if let Some(e) = error_of(&d.replay_errors, f["name"].as_str().unwrap_or_default()) {
            f["error"] = e.into();
        }
    }
    json!({
        "title": w.url,
        "action": url,
        "id": id,
        "settings": [
            { "label": "URL", "value": w.url },
            { "label": "Event types", "value": w.events.join(", ") },
            { "label": "Description", "value": w.description.clone().unwrap_or_default() },
            { "label": "Enabled", "value": if w.enabled { "Yes" } else { "No" } },
            { "label": "Created", "value": day(&w.created_at) },
            { "label": "Id", "value": id },
        ],
        "buttons": [
            { "label": "Send test event", "kind": "primary", "name": "test", "value": id },
            { "label": "Rotate secret", "kind": "secondary", "name": "rotate", "value": id },
            toggle,
        ],
        "delete": { "label": "Delete", "kind": "danger", "opens": "confirm-delete", "href": format!("{url}/delete") },
        "confirm": delete_confirm(base, w),
        "filter": { "action": url, "field": { "name": "status", "label": "Status", "type": "select", "id": "f-status", "value": status, "options": options } },
        "table": { "id": "deliveries", "caption": "Deliveries", "caption_hidden": true,
            "columns": [{ "key": "event", "label": "Event id", "mono": true }, { "key": "type", "label": "Type" },
                        { "key": "status", "label": "Status", "badge": true }, { "key": "attempts", "label": "Attempts", "numeric": true },
                        { "key": "code", "label": "Last status code", "numeric": true }, { "key": "error", "label": "Last error" },
                        { "key": "when", "label": "Next attempt / delivered at" }],
            "rows": delivery_rows(&deliveries.items), "empty": "No deliveries yet." },
        "next": next,
        "replay": { "action": url, "fields": replay_fields, "replay_id": d.replay_id },
    })
}

/// The Delete confirmation (the dialog, or the page without JavaScript).
pub fn delete_confirm(base: &str, w: &Webhook) -> Value {
    json!({ "id": "confirm-delete", "title": "Delete this webhook endpoint?",
        "text": "It stops receiving events at once and its deliveries are forgotten. This cannot be undone.",
        "confirm_label": "Delete endpoint", "action": webhook_url(base, w), "subject": w.url,
        "fields": { "delete": w.id.to_string() }, "cancel_href": webhook_url(base, w) })
}

#[cfg(test)]
mod tests {
    use super::super::render_support::{base, html};
    use super::*;

    fn hook() -> Webhook {
        let now = chrono::Utc::now();
        Webhook {
            id: uuid::Uuid::nil(),
            portal_id: uuid::Uuid::nil(),
            url: "https://hooks.example.com/in".into(),
            events: vec!["developer.*".into()],
            enabled: true,
            description: Some("CRM sync".into()),
            secret: "whsec_abc".into(),
            previous_secret: None,
            previous_until: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    #[test]
    fn the_event_patterns_field_splits_on_commas_spaces_and_lines_and_the_checkbox_is_enabled() {
        assert_eq!(split_events("developer.*, application.created\n*"), ["developer.*", "application.created", "*"]);
        let form = Form::parse(b"url=+https%3A%2F%2Fx.example%2Fh+&events=developer.*&description=");
        let body = new_webhook(&form);
        assert_eq!(body.url, "https://x.example/h");
        assert_eq!(body.enabled, Some(false), "an unchecked box is disabled");
        assert_eq!(body.description, None);
    }

    #[test]
    fn a_datetime_local_value_is_read_as_utc_and_anything_else_goes_to_the_api_as_typed() {
        assert_eq!(replay_time("2026-12-03T10:15").as_deref(), Some("2026-12-03T10:15:00Z"));
        assert_eq!(replay_time("2026-12-03T10:15:30").as_deref(), Some("2026-12-03T10:15:30Z"));
        assert_eq!(replay_time("2026-12-03T10:15:00+01:00").as_deref(), Some("2026-12-03T10:15:00+01:00"));
        assert_eq!(replay_time("  "), None);
    }

    #[test]
    fn a_refused_url_is_the_apis_sentence_next_to_the_url_field_and_the_posted_values_stay() {
        let e = AppError::field("url", "must not be a private, loopback, link-local or metadata address");
        let (by_field, summary) = create_errors(&e);
        assert_eq!(by_field[0].0, "url");
        assert!(by_field[0].1.starts_with("URL must not be a private"), "{by_field:?}");
        assert_eq!(summary[0]["target"], "f-webhook-url");
        let form = Form::parse(b"url=https%3A%2F%2F10.0.0.1%2F&events=developer.*");
        let mut ctx = base("Webhooks");
        ctx.insert("portal_name".into(), "P".into());
        ctx.insert("portal_id".into(), "p".into());
        ctx.insert("tabs".into(), json!({ "label": "Portal sections", "panel_id": "panel", "items": [] }));
        ctx.insert("current_tab".into(), "tab-webhooks".into());
        ctx.insert("section".into(), "webhooks".into());
        ctx.insert("invite_url".into(), "/i".into());
        ctx.insert("s".into(), webhooks("/b", &[hook()], Some(&form), &by_field));
        let page = html("console/portal.html", ctx);
        let page_unescaped = page.replace("&#x2f;", "/");
        assert!(page_unescaped.contains(r#"<a href="/b/webhooks/00000000-0000-0000-0000-000000000000">https://hooks.example.com/in</a>"#));
        assert!(page.contains(r#"id="f-webhook-url-error""#) && page.contains("URL must not be a private"));
        assert!(page_unescaped.contains(r#"value="https://10.0.0.1/""#));
        assert!(page_unescaped.contains(r#"action="/b/webhooks""#) && page.contains(r#"name="csrf_token""#));
        assert!(!page.contains("whsec_"), "the list never shows a secret");
    }

    #[test]
    fn the_detail_page_offers_every_action_with_the_csrf_token_and_the_delete_asks_first() {
        let w = hook();
        let page = Page {
            items: vec![Delivery::new(
                &w,
                &crate::domain::LifecycleEvent::of_nobody(
                    crate::domain::EventType::WebhookTest,
                    w.portal_id,
                    crate::domain::DeveloperSnapshot { email: None, name: String::new(), username: None },
                    w.created_at,
                ),
                w.created_at,
            )],
            total: None,
            next_cursor: Some("c1".into()),
        };
        let d = Detail { status: Some("failed"), replay_id: Some("r-1".into()), ..Default::default() };
        let v = webhook_detail("/b", &w, &page, &d);
        assert_eq!(v["next"], "/b/webhooks/00000000-0000-0000-0000-000000000000?status=failed&cursor=c1", "Next keeps the filter");
        let labels: Vec<&str> = v["buttons"].as_array().unwrap().iter().map(|b| b["label"].as_str().unwrap()).collect();
        assert_eq!(labels, ["Send test event", "Rotate secret", "Disable"]);
        assert_eq!(v["confirm"]["fields"]["delete"], w.id.to_string());
        let mut ctx = base("Webhook");
        ctx.insert("portal_name".into(), "P".into());
        ctx.insert("back".into(), json!({ "label": "Back to P", "href": "/b?tab=webhooks" }));
        ctx.insert("w".into(), v);
        let html = html("console/webhook.html", ctx);
        assert!(html.contains("webhook.test") && html.contains("Replay id: r-1"));
        assert!(html.contains(r#"type="datetime-local""#));
        assert!(html.contains(r#"data-gh-dialog="confirm-delete""#) && html.contains("Delete this webhook endpoint?"));
        assert!(html.matches(r#"name="csrf_token""#).count() >= 3, "actions, replay and the delete dialog");
        assert!(!html.contains("whsec_"), "the endpoint's page never shows a secret");
    }

    #[test]
    fn the_secret_page_shows_the_secret_once_and_after_a_rotation_says_the_old_one_signs_24_hours() {
        let w = hook();
        let mut ctx = base("Secret");
        ctx.insert("portal_name".into(), "P".into());
        ctx.insert("s".into(), secret_page("/b", &w, "whsec_new", true));
        let page = html("console/webhook_secret.html", ctx);
        assert!(page.contains("<code id=\"webhook-secret\">whsec_new</code>"));
        assert!(page.contains("24 hours"));
    }
}

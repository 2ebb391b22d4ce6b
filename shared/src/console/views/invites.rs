//! The Invites tab and the Invite developers dialog: the pending invites, the two forms
//! (addresses, or a username with a one-time password), their outcomes and field errors.

use serde_json::{json, Value};

use super::{day, field_errors};
use crate::domain::{Developer, Invite};
use crate::error::AppError;
use crate::pages::web::Form;
use crate::store::Page;

pub fn invites(base: &str, page: &Page<Invite>) -> Value {
    let rows: Vec<Value> = page
        .items
        .iter()
        .map(|i| {
            let id = i.id.to_string();
            json!({ "id": id, "cells": { "email": i.email, "status": i.status.as_str(), "expires": day(&i.expires_at) },
                    "actions": [
                        { "label": "Re-send", "kind": "secondary", "small": true, "form": "invite-actions", "name": "resend", "value": id },
                        { "label": "Withdraw", "kind": "danger", "small": true, "form": "invite-actions", "name": "withdraw", "value": id },
                    ] })
        })
        .collect();
    json!({
        "action": format!("{base}/invites"),
        "table": { "id": "invites", "caption": "Pending invites", "columns": [{ "key": "email", "label": "Email" },
                   { "key": "status", "label": "Status" }, { "key": "expires", "label": "Link expires" }],
                   "rows": rows, "empty": "No pending invites." },
    })
}

/// The Invite developers forms (the dialog and its page): many addresses, or a username with
/// a one-time password.
pub fn invite_forms(base: &str, form: Option<&Form>, errors: &[(String, String)]) -> Value {
    let field = |name: &str, label: &str, kind: &str, hint: Option<&str>, optional: bool| {
        let mut f = json!({ "name": name, "label": label, "type": kind, "autocomplete": "off", "id": format!("f-invite-{name}") });
        if let Some(h) = hint {
            f["hint"] = h.into();
        }
        if optional {
            f["optional"] = true.into();
        } else {
            f["required"] = true.into();
        }
        if let Some(v) = form.map(|f| f.get(name)).filter(|v| !v.is_empty() && kind != "password") {
            f["value"] = v.into();
        }
        if let Some((_, e)) = errors.iter().find(|(n, _)| n == name) {
            f["error"] = e.clone().into();
        }
        f
    };
    json!({
        "action": format!("{base}/invite"),
        "emails": [field("emails", "Email addresses", "textarea", Some("One or more, separated by commas, spaces or new lines. Each gets a link to create an account."), false)],
        "password": [
            field("username", "Username", "text", None, false),
            field("name", "Full name", "text", None, false),
            field("email", "Email address", "email", None, true),
        ],
        "password_hint": "A one-time password is generated and shown once. They must change it at first sign-in; it stops working after the portal's one-time password lifetime.",
    })
}

/// The addresses of the invite form: split on commas, semicolons and white space.
pub fn split_addresses(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == ',' || c == ';' || c.is_whitespace()).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// The per-address outcomes of `invite_links`, as a table.
pub fn invite_outcomes(outcomes: &[Value]) -> Value {
    let rows: Vec<Value> = outcomes
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let outcome = match o["status"].as_str().unwrap_or_default() {
                "pending" => "Invited: a link is on its way",
                "duplicate" => "Not sent: listed twice",
                "already_registered" => "Not sent: already has an account",
                "already_invited" => "Not sent: already invited (re-send it from the list)",
                _ => "Not sent",
            };
            json!({ "id": i, "cells": { "email": o["email"].as_str().unwrap_or_default(), "outcome": outcome } })
        })
        .collect();
    let sent = outcomes.iter().filter(|o| o["status"] == "pending").count();
    json!({ "title": format!("Invited {sent} of {}", outcomes.len()),
            "table": { "id": "invite-outcomes", "caption": "Outcome per address",
                       "columns": [{ "key": "email", "label": "Email" }, { "key": "outcome", "label": "Outcome" }], "rows": rows } })
}

/// The page of a created developer's generated one-time password (`console/webhook_secret.html`,
/// shown once).
pub fn created_secret(base: &str, d: &Developer, password: &str) -> Value {
    json!({ "title": format!("Created {}", d.username.clone().unwrap_or_default()),
            "text": "Copy the one-time password now: it is shown only this once. The developer is approved and must change it at first sign-in. Give it to them by a channel other than this one.",
            "label": "One-time password", "secret": password,
            "next": { "label": "Back to invites", "href": super::tab_url(base, super::Tab::Invites) } })
}

/// The invite use cases' field errors, by the form's field names.
pub fn invite_errors(e: &AppError) -> (Vec<(String, String)>, Vec<Value>) {
    let labels = [
        ("emails", "Email addresses"),
        ("username", "Username"),
        ("name", "Full name"),
        ("email", "Email address"),
        ("password", "One-time password"),
    ];
    field_errors(e, &labels, |f| {
        let base = f.split('[').next().unwrap_or(f);
        (base.to_string(), format!("f-invite-{base}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FieldError;

    #[test]
    fn invite_addresses_are_split_on_commas_semicolons_and_white_space() {
        assert_eq!(split_addresses(" a@x.com, b@x.com;c@x.com\n\nd@x.com  "), ["a@x.com", "b@x.com", "c@x.com", "d@x.com"]);
        assert!(split_addresses(" \n ,").is_empty());
    }

    #[test]
    fn the_use_cases_errors_land_next_to_the_invite_fields() {
        let e = AppError::Invalid(vec![
            FieldError::new("emails[1]", "must be an email address"),
            FieldError::new("password", "is too easy to guess"),
        ]);
        let (by_field, summary) = invite_errors(&e);
        assert_eq!(by_field[0], ("emails".to_string(), "Email addresses must be an email address.".to_string()));
        assert_eq!(summary[1]["target"], "f-invite-password");
        let (_, conflict) = invite_errors(&AppError::Conflict("a developer with this email already exists".into()));
        assert_eq!(conflict[0]["message"], "A developer with this email already exists.");
    }

    #[test]
    fn invite_outcomes_are_reported_per_address() {
        let v =
            invite_outcomes(&[json!({ "email": "a@x.com", "status": "pending" }), json!({ "email": "a@x.com", "status": "duplicate" })]);
        assert_eq!(v["title"], "Invited 1 of 2");
        assert_eq!(v["table"]["rows"][1]["cells"]["outcome"], "Not sent: listed twice");
    }
}

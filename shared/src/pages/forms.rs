//! The forms of the developer pages: their fields, what went wrong with a posted one, and the
//! contexts of `partials/field.html`.

use serde_json::{json, Map, Value};

use super::web::Form;
use crate::domain::{FieldError, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS};
use crate::error::AppError;

pub(super) const EXPIRED_FORM: &str = "This form expired. Check the fields and send it again.";
pub(super) const BAD_LOGIN: &str = "Wrong email, username or password. Check them and try again, or reset your password.";

/// A field of a form: its name (the use case's field), label and kind.
#[derive(Clone, Copy)]
pub(super) struct FieldDef {
    pub(super) name: &'static str,
    pub(super) label: &'static str,
    pub(super) kind: &'static str,
    pub(super) autocomplete: &'static str,
    pub(super) hint: Option<&'static str>,
    pub(super) optional: bool,
    /// A new password: the rules are shown below it.
    pub(super) new_password: bool,
}

pub(super) const fn field(name: &'static str, label: &'static str, kind: &'static str, autocomplete: &'static str) -> FieldDef {
    FieldDef { name, label, kind, autocomplete, hint: None, optional: false, new_password: false }
}

pub(super) const NEW_PASSWORD_NOTE: &str = "Hard to guess: not your name, email address or a common phrase. We check this when you submit.";

pub(super) const REGISTER: [FieldDef; 4] = [
    field("name", "Full name", "text", "name"),
    FieldDef { hint: Some("We send a link to confirm it."), ..field("email", "Email address", "email", "email") },
    FieldDef {
        hint: Some("You can sign in with it instead of your email address."),
        optional: true,
        ..field("username", "Username", "text", "username")
    },
    FieldDef { new_password: true, ..field("password", "Password", "password", "new-password") },
];
pub(super) const LOGIN: [FieldDef; 2] =
    [field("login", "Email address or username", "text", "username"), field("password", "Password", "password", "current-password")];
pub(super) const FORGOT: [FieldDef; 1] = [field("email", "Email address", "email", "email")];
pub(super) const RESET: [FieldDef; 1] =
    [FieldDef { new_password: true, ..field("new_password", "New password", "password", "new-password") }];
pub(super) const INVITE: [FieldDef; 3] = [
    field("name", "Full name", "text", "name"),
    FieldDef {
        hint: Some("You can sign in with it instead of your email address."),
        optional: true,
        ..field("username", "Username", "text", "username")
    },
    FieldDef { new_password: true, ..field("password", "Password", "password", "new-password") },
];
pub(super) const CHANGE: [FieldDef; 2] = [
    field("current_password", "Current password", "password", "current-password"),
    FieldDef { new_password: true, ..field("new_password", "New password", "password", "new-password") },
];
pub(super) const NEW_APP: [FieldDef; 2] = [
    field("name", "Application name", "text", "off"),
    FieldDef { optional: true, ..field("description", "Description", "textarea", "off") },
];

/// What went wrong with a posted form, as the page shows it.
pub(super) enum Problem {
    App(AppError),
    /// The CSRF check failed (403).
    Expired,
}

impl Problem {
    pub(super) fn status(&self) -> u16 {
        match self {
            Self::App(e) => crate::http::status_of(e),
            Self::Expired => 403,
        }
    }
}

/// A use case's sentence as a page sentence: capitalised, with a full stop.
pub(super) fn sentence(s: &str) -> String {
    let mut c = s.chars();
    let mut out: String = c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default();
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// The field errors of a form (by field name) and the form's errors without a field.
pub(super) fn form_errors(defs: &[FieldDef], problem: Option<&Problem>) -> (Vec<(String, String)>, Vec<Value>) {
    let mut by_field = Vec::new();
    let mut summary = Vec::new();
    match problem {
        None => {}
        Some(Problem::Expired) => summary.push(json!({ "message": EXPIRED_FORM })),
        Some(Problem::App(AppError::Invalid(errs))) => {
            for FieldError { field, message } in errs {
                match defs.iter().find(|d| d.name == field) {
                    Some(d) => {
                        let text = sentence(&format!("{} {message}", d.label));
                        by_field.push((field.clone(), text.clone()));
                        summary.push(json!({ "message": text, "field": field }));
                    }
                    None if field == "token" => {
                        summary.push(json!({ "message": "This link is not valid. Open the link from your email again." }));
                    }
                    None => summary.push(json!({ "message": sentence(&format!("{field} {message}")) })),
                }
            }
        }
        Some(Problem::App(AppError::Unauthenticated(m))) if m == "the login or password is wrong" => {
            summary.push(json!({ "message": BAD_LOGIN }));
        }
        Some(Problem::App(AppError::Internal(_))) => {
            summary.push(json!({ "message": "Something went wrong on our side. It has been logged; try again in a moment." }))
        }
        Some(Problem::App(AppError::Unavailable(_))) => summary.push(json!({ "message": "The service is busy. Try again in a moment." })),
        Some(Problem::App(e)) => summary.push(json!({ "message": sentence(&e.to_string()) })),
    }
    (by_field, summary)
}

/// The fields' contexts for `partials/field.html`: values entered (never a password), errors.
pub(super) fn fields(defs: &[FieldDef], form: Option<&Form>, errors: &[(String, String)], id_suffix: &str) -> Vec<Value> {
    defs.iter()
        .map(|d| {
            let mut f = Map::new();
            f.insert("name".into(), d.name.into());
            f.insert("label".into(), d.label.into());
            f.insert("type".into(), d.kind.into());
            f.insert("autocomplete".into(), d.autocomplete.into());
            if !id_suffix.is_empty() {
                f.insert("id".into(), format!("f-{}{id_suffix}", d.name).into());
            }
            if d.optional {
                f.insert("optional".into(), true.into());
            } else {
                f.insert("required".into(), true.into());
            }
            if let Some(h) = d.hint {
                f.insert("hint".into(), h.into());
            }
            if d.new_password {
                f.insert("rules".into(), json!({ "min": PASSWORD_MIN_CHARS, "max": PASSWORD_MAX_CHARS, "note": NEW_PASSWORD_NOTE }));
            }
            if let Some(v) = form.map(|f| f.get(d.name)).filter(|v| !v.is_empty() && d.kind != "password") {
                f.insert("value".into(), v.into());
            }
            if let Some((_, e)) = errors.iter().find(|(n, _)| n == d.name) {
                f.insert("error".into(), e.clone().into());
            }
            Value::Object(f)
        })
        .collect()
}

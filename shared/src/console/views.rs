//! The console's pure parts: tabs and row actions, the template contexts built from the use
//! cases' results, the settings form read into the PATCH route's body, and the errors of the
//! use cases placed next to their fields. No I/O.

use serde_json::{json, Map, Value};

use crate::domain::webhooks::Webhook;
use crate::domain::{
    Application, Credential, Developer, DeveloperState, FieldError, Invite, LifecycleEvent, PortalSettings, RejectAction, Team,
};
use crate::error::AppError;
use crate::pages::web::Form;
use crate::store::{Page, StateCounts};

/// The tabs of a portal, in the contract's order and with its names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Requested,
    Approved,
    Revoked,
    Rejected,
    Invites,
    Teams,
    Audit,
    Webhooks,
    Settings,
}

impl Tab {
    pub const ALL: [Tab; 9] =
        [Tab::Requested, Tab::Approved, Tab::Revoked, Tab::Rejected, Tab::Invites, Tab::Teams, Tab::Audit, Tab::Webhooks, Tab::Settings];

    pub fn key(self) -> &'static str {
        match self {
            Tab::Requested => "requested",
            Tab::Approved => "approved",
            Tab::Revoked => "revoked",
            Tab::Rejected => "rejected",
            Tab::Invites => "invites",
            Tab::Teams => "teams",
            Tab::Audit => "audit",
            Tab::Webhooks => "webhooks",
            Tab::Settings => "settings",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Tab::Requested => "Requested access",
            Tab::Approved => "Approved",
            Tab::Revoked => "Revoked",
            Tab::Rejected => "Rejected",
            Tab::Invites => "Invites",
            Tab::Teams => "Teams",
            Tab::Audit => "Audit log",
            Tab::Webhooks => "Webhooks",
            Tab::Settings => "Settings",
        }
    }

    pub fn parse(raw: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| t.key() == raw)
    }

    /// The developers' state a state tab lists.
    pub fn state(self) -> Option<DeveloperState> {
        match self {
            Tab::Requested => Some(DeveloperState::Pending),
            Tab::Approved => Some(DeveloperState::Approved),
            Tab::Revoked => Some(DeveloperState::Revoked),
            Tab::Rejected => Some(DeveloperState::Rejected),
            _ => None,
        }
    }

    pub fn for_state(s: DeveloperState) -> Tab {
        match s {
            DeveloperState::Pending => Tab::Requested,
            DeveloperState::Approved => Tab::Approved,
            DeveloperState::Revoked => Tab::Revoked,
            DeveloperState::Rejected => Tab::Rejected,
        }
    }

    /// Which part of `console/portal.html` shows the tab.
    pub fn section(self) -> &'static str {
        if self.state().is_some() {
            "developers"
        } else {
            self.key()
        }
    }

    /// The row actions of a state tab (Kong Manager's): the first is the primary one.
    pub fn actions(self) -> &'static [Action] {
        match self {
            Tab::Requested => &[Action::Accept, Action::Reject],
            Tab::Approved => &[Action::Revoke, Action::Delete],
            Tab::Revoked => &[Action::Reapprove, Action::Delete],
            Tab::Rejected => &[Action::Approve, Action::Delete],
            _ => &[],
        }
    }
}

/// What an admin can do to a developer from a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Accept,
    Reject,
    Revoke,
    Reapprove,
    Approve,
    Delete,
}

impl Action {
    pub const ALL: [Action; 6] = [Action::Accept, Action::Reject, Action::Revoke, Action::Reapprove, Action::Approve, Action::Delete];

    pub fn key(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Reject => "reject",
            Action::Revoke => "revoke",
            Action::Reapprove => "reapprove",
            Action::Approve => "approve",
            Action::Delete => "delete",
        }
    }

    pub fn parse(raw: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.key() == raw)
    }

    pub fn label(self) -> &'static str {
        match self {
            Action::Accept => "Accept",
            Action::Reject => "Reject",
            Action::Revoke => "Revoke",
            Action::Reapprove => "Re-approve",
            Action::Approve => "Approve",
            Action::Delete => "Delete",
        }
    }

    /// Irreversible (or, for Reject, final for the request): asked for again in a dialog.
    pub fn confirmed(self) -> bool {
        matches!(self, Action::Reject | Action::Revoke | Action::Delete)
    }

    /// The flash key of the redirect after it worked.
    pub fn flash(self) -> &'static str {
        match self {
            Action::Accept => "accepted",
            Action::Reject => "rejected",
            Action::Revoke => "revoked",
            Action::Reapprove => "reapproved",
            Action::Approve => "approved",
            Action::Delete => "deleted",
        }
    }

    /// How a bulk result names a developer it worked for.
    pub fn done_label(self) -> &'static str {
        match self {
            Action::Accept | Action::Reapprove | Action::Approve => "Approved",
            Action::Reject => "Rejected",
            Action::Revoke => "Revoked",
            Action::Delete => "Deleted",
        }
    }
}

pub fn tab_url(base: &str, tab: Tab) -> String {
    format!("{base}?tab={}", tab.key())
}

/// The tablist: the four state tabs carry their exact counts.
pub fn tabs(base: &str, current: Tab, counts: &StateCounts) -> Value {
    let items: Vec<Value> = Tab::ALL
        .iter()
        .map(|t| {
            let mut item =
                json!({ "label": t.label(), "href": tab_url(base, *t), "id": format!("tab-{}", t.key()), "current": *t == current });
            if let Some(s) = t.state() {
                item["count"] = counts.get(s).into();
            }
            item
        })
        .collect();
    json!({ "label": "Portal sections", "panel_id": "panel", "items": items })
}

/// A developer as rows and dialogs name them: the name, else the email, else the username.
pub fn display_name(d: &Developer) -> String {
    if !d.name.trim().is_empty() {
        return d.name.clone();
    }
    d.email.clone().or_else(|| d.username.clone()).unwrap_or_else(|| d.id.to_string())
}

fn day(t: &crate::domain::Timestamp) -> String {
    t.format("%-d %b %Y %H:%M").to_string()
}

/// The confirmation of an irreversible action (dialog and page share it).
pub fn dialog(base: &str, action: Action, tab: Tab, settings: &PortalSettings) -> Value {
    let (title, text) = match action {
        Action::Reject if settings.reject_action == RejectAction::Delete => (
            "Reject this developer?",
            "This portal deletes rejected accounts: the account and everything it owns are deleted. This cannot be undone.",
        ),
        Action::Reject => ("Reject this developer?", "They cannot sign in. You can approve them later from the Rejected tab."),
        Action::Revoke => (
            "Revoke this developer?",
            "Their sessions end and their API keys stop working at once. You can re-approve them later from the Revoked tab.",
        ),
        _ => ("Delete this developer?", "The account, its applications and API keys are deleted. This cannot be undone."),
    };
    json!({ "id": action.key(), "title": title, "text": text, "confirm_label": action.label(),
            "action": format!("{base}/developers/decide"), "fields": { "tab": tab.key() } })
}

/// The developers section of a state tab: search, bulk form, table, pager, dialogs.
pub fn developers(base: &str, tab: Tab, page: &Page<Developer>, q: Option<&str>, paged: bool, settings: &PortalSettings) -> Value {
    let decide = format!("{base}/developers/decide");
    let rows: Vec<Value> = page
        .items
        .iter()
        .map(|d| {
            let id = d.id.to_string();
            let actions: Vec<Value> = tab
                .actions()
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let kind = if a.confirmed() && *a == Action::Delete {
                        "danger"
                    } else if i == 0 {
                        "primary"
                    } else {
                        "secondary"
                    };
                    if a.confirmed() {
                        json!({ "label": a.label(), "kind": kind, "small": true, "form": "row-confirm", "name": a.key(), "value": id, "opens": a.key() })
                    } else {
                        json!({ "label": a.label(), "kind": kind, "small": true, "form": "row-actions", "name": a.key(), "value": id })
                    }
                })
                .collect();
            json!({ "id": id, "href": format!("{base}/developers/{id}"), "actions": actions,
                    "cells": { "name": display_name(d), "email": d.email.clone().unwrap_or_default(),
                               "username": d.username.clone().unwrap_or_default(), "registered": day(&d.created_at) } })
        })
        .collect();
    let total = page.total.unwrap_or(rows.len() as u64);
    let shown = rows.len();
    let mut pager =
        json!({ "text": if q.is_some() { format!("{shown} shown of {total} matching") } else { format!("{shown} shown of {total}") } });
    let mut query = format!("{base}?tab={}", tab.key());
    if let Some(q) = q {
        query.push_str(&format!("&q={}", urlencoded(q)));
    }
    if let Some(c) = &page.next_cursor {
        pager["next"] = format!("{query}&cursor={}", urlencoded(c)).into();
    }
    if paged {
        pager["first"] = query.clone().into();
    }
    let mut search_field = json!({ "name": "q", "label": "Search developers", "type": "search", "autocomplete": "off",
                                   "hint": "Email, username or name, from the start" });
    if let Some(q) = q {
        search_field["value"] = q.into();
    }
    let bulk: Vec<Value> = tab
        .actions()
        .iter()
        .map(|a| json!({ "label": format!("{} selected", a.label()), "kind": "secondary", "name": "action", "value": a.key() }))
        .collect();
    let dialogs: Vec<Value> = tab.actions().iter().filter(|a| a.confirmed()).map(|a| dialog(base, *a, tab, settings)).collect();
    let caption = match tab {
        Tab::Requested => "Developers waiting for access",
        Tab::Approved => "Approved developers",
        Tab::Revoked => "Developers whose access was revoked",
        _ => "Rejected developers",
    };
    json!({
        "search": { "action": base, "field": search_field, "tab": tab.key() },
        "decide_action": decide, "confirm_url": format!("{base}/developers/confirm"), "bulk": bulk, "dialogs": dialogs,
        "table": { "id": "developers", "caption": caption, "caption_hidden": true, "select": { "form": "bulk", "name": "developer" },
                   "columns": [{ "key": "name", "label": "Name" }, { "key": "email", "label": "Email" },
                               { "key": "username", "label": "Username" }, { "key": "registered", "label": "Registered" }],
                   "rows": rows, "empty": if q.is_some() { "No developer matches this search." } else { "No developers here." } },
        "pager": pager,
    })
}

fn urlencoded(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

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
            field("password", "One-time password", "password", Some("They must change it at first sign-in; it stops working after the portal's one-time password lifetime."), false),
        ],
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

pub fn created_result(d: &Developer) -> Value {
    json!({ "title": format!("Created {}", d.username.clone().unwrap_or_default()),
            "text": "The developer is approved and must change the one-time password at first sign-in. Give them the password by a channel other than this one." })
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

/// Field errors of a use case next to the form's fields: `(field, sentence)` and the summary.
fn field_errors(e: &AppError, labels: &[(&str, &str)], name: impl Fn(&str) -> (String, String)) -> (Vec<(String, String)>, Vec<Value>) {
    let mut by_field = vec![];
    let mut summary = vec![];
    match e {
        AppError::Invalid(errs) => {
            for FieldError { field, message } in errs {
                let (f, target) = name(field);
                match labels.iter().find(|(n, _)| *n == f) {
                    Some((_, label)) => {
                        let text = super::sentence(&format!("{label} {message}"));
                        if !by_field.iter().any(|(n, _): &(String, String)| *n == f) {
                            by_field.push((f.clone(), text.clone()));
                        }
                        summary.push(json!({ "message": text, "field": f, "target": target }));
                    }
                    None => summary.push(json!({ "message": super::sentence(&format!("{field} {message}")) })),
                }
            }
        }
        e => summary.push(json!({ "message": super::error_message(e) })),
    }
    (by_field, summary)
}

pub fn teams(base: &str, page: &Page<Team>) -> Value {
    let rows: Vec<Value> = page
        .items
        .iter()
        .map(|t| json!({ "id": t.id, "cells": { "name": t.name, "description": t.description.clone().unwrap_or_default(), "created": day(&t.created_at) } }))
        .collect();
    json!({
        "table": { "id": "teams", "caption": "Teams", "caption_hidden": true, "columns": [{ "key": "name", "label": "Team" },
                   { "key": "description", "label": "Description" }, { "key": "created", "label": "Created" }], "rows": rows, "empty": "No teams yet." },
        "create": { "action": format!("{base}/teams"), "fields": [
            { "name": "name", "label": "Team name", "required": true, "autocomplete": "off", "id": "f-team-name" },
            { "name": "description", "label": "Description", "optional": true, "autocomplete": "off", "id": "f-team-description" }] },
    })
}

fn event_row(e: &LifecycleEvent) -> Value {
    let who = e.developer.email.clone().or_else(|| e.developer.username.clone()).unwrap_or_else(|| e.developer.name.clone());
    let change = match (e.from_state, e.to_state) {
        (Some(a), Some(b)) if a != b => format!("{} → {}", a.as_str(), b.as_str()),
        _ => String::new(),
    };
    json!({ "id": e.id, "cells": { "at": day(&e.at), "type": e.event_type.name(), "developer": who, "change": change, "actor": e.actor.0 } })
}

pub fn audit(base: &str, page: &Page<LifecycleEvent>) -> Value {
    let rows: Vec<Value> = page.items.iter().map(event_row).collect();
    let mut v = json!({ "table": { "id": "audit", "caption": "Audit log, newest first", "caption_hidden": true,
        "columns": [{ "key": "at", "label": "When (UTC)" }, { "key": "type", "label": "Event" }, { "key": "developer", "label": "Developer" },
                    { "key": "change", "label": "Change" }, { "key": "actor", "label": "By" }], "rows": rows, "empty": "Nothing recorded yet." } });
    if let Some(c) = &page.next_cursor {
        v["next"] = format!("{base}?tab=audit&cursor={}", urlencoded(c)).into();
    }
    v
}

pub fn webhooks(hooks: &[Webhook]) -> Value {
    let rows: Vec<Value> = hooks
        .iter()
        .map(|w| json!({ "id": w.id, "cells": { "url": w.url, "events": w.events.join(", "), "enabled": if w.enabled { "Yes" } else { "No" } } }))
        .collect();
    json!({ "table": { "id": "webhooks", "caption": "Webhook endpoints", "caption_hidden": true,
        "columns": [{ "key": "url", "label": "URL" }, { "key": "events", "label": "Events" }, { "key": "enabled", "label": "Enabled" }],
        "rows": rows, "empty": "No webhook endpoints. Create them with POST /api/portals/{portal_id}/webhooks." } })
}

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

/// A developer's detail page: profile, teams, applications and keys (read-only), history.
pub fn developer_detail(
    base: &str,
    d: &Developer,
    teams: &[Team],
    apps: &[Application],
    keys: &[Vec<Credential>],
    history: &[LifecycleEvent],
) -> Value {
    let mut profile = vec![json!({ "label": "Name", "value": d.name }), json!({ "label": "State", "value": d.state.as_str() })];
    if let Some(e) = &d.email {
        profile.push(json!({ "label": "Email address", "value": e }));
        profile.push(json!({ "label": "Email confirmed", "value": if d.email_verified { "Yes" } else { "No" } }));
    }
    if let Some(u) = &d.username {
        profile.push(json!({ "label": "Username", "value": u }));
    }
    profile.push(json!({ "label": "Registered", "value": day(&d.created_at) }));
    if let Some(t) = d.last_active_at {
        profile.push(json!({ "label": "Last active", "value": day(&t) }));
    }
    let member: Vec<&Team> = teams.iter().filter(|t| d.teams.contains(&t.id.to_string())).collect();
    let team_rows: Vec<Value> = member
        .iter()
        .map(|t| json!({ "id": t.id, "cells": { "name": t.name },
                         "actions": [{ "label": "Remove", "kind": "secondary", "small": true, "form": "team-actions", "name": "remove", "value": t.id.to_string() }] }))
        .collect();
    let options: Vec<Value> = teams
        .iter()
        .filter(|t| !d.teams.contains(&t.id.to_string()))
        .map(|t| json!({ "value": t.id.to_string(), "label": t.name }))
        .collect();
    let app_rows: Vec<Value> = apps
        .iter()
        .zip(keys.iter().chain(std::iter::repeat(&Vec::new())))
        .map(|(a, k)| {
            let prefixes: Vec<String> = k.iter().map(|c| format!("{}…", c.key_prefix)).collect();
            json!({ "id": a.id, "cells": { "name": a.name, "products": a.products.join(", "), "keys": prefixes.join(", "), "created": day(&a.created_at) } })
        })
        .collect();
    let history_rows: Vec<Value> = history.iter().map(event_row).collect();
    let teams_action = format!("{base}/developers/{}/teams", d.id);
    let mut v = json!({
        "name": display_name(d), "profile": profile, "teams_action": teams_action,
        "teams": { "id": "member-teams", "caption": "Teams", "caption_hidden": true, "columns": [{ "key": "name", "label": "Team" }],
                   "rows": team_rows, "empty": "Not in any team." },
        "apps": { "id": "apps", "caption": "Applications", "caption_hidden": true,
                  "columns": [{ "key": "name", "label": "Application" }, { "key": "products", "label": "Products" },
                              { "key": "keys", "label": "API keys", "mono": true }, { "key": "created", "label": "Created" }],
                  "rows": app_rows, "empty": "No applications." },
        "history": { "id": "history", "caption": "History, newest first", "caption_hidden": true,
                     "columns": [{ "key": "at", "label": "When (UTC)" }, { "key": "type", "label": "Event" }, { "key": "developer", "label": "Developer" },
                                 { "key": "change", "label": "Change" }, { "key": "actor", "label": "By" }],
                     "rows": history_rows, "empty": "Nothing recorded." },
    });
    if !options.is_empty() {
        v["add_team"] =
            json!({ "name": "team_id", "label": "Add to team", "type": "select", "options": options, "id": "f-team_id", "value": "" });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> Form {
        Form::parse(body.as_bytes())
    }

    #[test]
    fn the_tabs_are_the_contracts_in_order_and_the_state_tabs_carry_their_counts() {
        let counts = StateCounts { pending: 3, approved: 1284, rejected: 0, revoked: 12 };
        let t = tabs("/console/portals/p", Tab::Approved, &counts);
        let labels: Vec<&str> = t["items"].as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
        assert_eq!(
            labels,
            ["Requested access", "Approved", "Revoked", "Rejected", "Invites", "Teams", "Audit log", "Webhooks", "Settings"]
        );
        assert_eq!(t["items"][0]["count"], 3);
        assert_eq!(t["items"][1]["count"], 1284);
        assert_eq!(t["items"][3]["count"], 0, "an empty state still shows its 0");
        assert!(t["items"][4].get("count").is_none());
        assert_eq!(t["items"][1]["current"], true);
        assert_eq!(t["items"][2]["href"], "/console/portals/p?tab=revoked");
    }

    #[test]
    fn each_state_tab_offers_kong_managers_row_actions_and_asks_again_for_the_irreversible_ones() {
        let labels = |t: Tab| t.actions().iter().map(|a| a.label()).collect::<Vec<_>>();
        assert_eq!(labels(Tab::Requested), ["Accept", "Reject"]);
        assert_eq!(labels(Tab::Approved), ["Revoke", "Delete"]);
        assert_eq!(labels(Tab::Revoked), ["Re-approve", "Delete"]);
        assert_eq!(labels(Tab::Rejected), ["Approve", "Delete"]);
        assert!(Tab::Invites.actions().is_empty());
        let confirmed: Vec<_> = Action::ALL.iter().filter(|a| a.confirmed()).map(|a| a.key()).collect();
        assert_eq!(confirmed, ["reject", "revoke", "delete"]);
        for a in Action::ALL {
            assert_eq!(Action::parse(a.key()), Some(a));
        }
        assert_eq!(Action::parse("drop"), None);
        for t in Tab::ALL {
            assert_eq!(Tab::parse(t.key()), Some(t));
        }
    }

    #[test]
    fn the_reject_dialog_says_when_the_portal_deletes_rejected_accounts() {
        let mut s = PortalSettings::default();
        assert!(dialog("/b", Action::Reject, Tab::Requested, &s)["text"].as_str().unwrap().contains("approve them later"));
        s.reject_action = RejectAction::Delete;
        assert!(dialog("/b", Action::Reject, Tab::Requested, &s)["text"].as_str().unwrap().contains("cannot be undone"));
        let d = dialog("/b", Action::Delete, Tab::Approved, &s);
        assert_eq!(d["title"], "Delete this developer?");
        assert_eq!(d["action"], "/b/developers/decide");
        assert_eq!(d["fields"]["tab"], "approved");
    }

    #[test]
    fn invite_addresses_are_split_on_commas_semicolons_and_white_space() {
        assert_eq!(split_addresses(" a@x.com, b@x.com;c@x.com\n\nd@x.com  "), ["a@x.com", "b@x.com", "c@x.com", "d@x.com"]);
        assert!(split_addresses(" \n ,").is_empty());
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

#[cfg(test)]
mod render_tests {
    use super::*;
    use crate::pages::render::render;

    fn base(title: &str) -> Map<String, Value> {
        let mut ctx = Map::new();
        ctx.insert("title".into(), title.into());
        ctx.insert("site".into(), json!({ "name": "Gatehouse", "home_url": "/console/portals", "kind": "console" }));
        ctx.insert("csrf_token".into(), "t".into());
        ctx.insert("user".into(), json!({ "name": "ops …abcd", "sign_out_action": "/console/sign-out" }));
        ctx
    }

    fn html(template: &str, ctx: Map<String, Value>) -> String {
        render(template, &minijinja::Value::from_serialize(Value::Object(ctx))).unwrap_or_else(|e| panic!("{template}: {e:#}"))
    }

    fn developer(name: &str) -> Developer {
        let now = chrono::Utc::now();
        let mut d = Developer::new_builtin(
            crate::domain::Origin::Admin,
            uuid::Uuid::nil(),
            None,
            None,
            &crate::domain::PersonName::parse(name).unwrap(),
            DeveloperState::Pending,
            String::new(),
            now,
        );
        d.email = Some(format!("{}@example.com", name.to_lowercase().replace(' ', ".")));
        d
    }

    #[test]
    fn a_developers_detail_page_renders_with_a_team_to_add_and_one_to_remove() {
        let now = chrono::Utc::now();
        let team =
            |n: &str| Team { id: uuid::Uuid::now_v7(), portal_id: uuid::Uuid::nil(), name: n.into(), description: None, created_at: now };
        let (a, b) = (team("Payments"), team("Platform"));
        let mut d = developer("Ada Lovelace");
        d.teams.push(a.id.to_string());
        let mut ctx = base("Ada Lovelace");
        ctx.insert("portal_name".into(), "Acme".into());
        ctx.insert("back".into(), json!({ "label": "Back", "href": "/console/portals" }));
        ctx.insert("d".into(), developer_detail("/console/portals/p", &d, &[a, b], &[], &[], &[]));
        let page = html("console/developer.html", ctx);
        assert!(page.contains("Add to team") && page.contains(">Remove</button>"));
    }

    #[test]
    fn a_state_tab_of_twenty_developers_stays_within_the_page_budget() {
        let rows: Vec<Developer> = (0..20).map(|i| developer(&format!("Person Number{i:02}"))).collect();
        let page = Page { items: rows, total: Some(1284), next_cursor: Some("c".into()) };
        let mut ctx = base("Requested access");
        ctx.insert("portal_name".into(), "Acme".into());
        ctx.insert("portal_id".into(), uuid::Uuid::nil().to_string().into());
        ctx.insert("tabs".into(), tabs("/console/portals/p", Tab::Requested, &StateCounts::default()));
        ctx.insert("current_tab".into(), "tab-requested".into());
        ctx.insert("tab_key".into(), "requested".into());
        ctx.insert("section".into(), "developers".into());
        ctx.insert("invite_url".into(), "/console/portals/p/invite".into());
        ctx.insert("s".into(), developers("/console/portals/p", Tab::Requested, &page, None, true, &PortalSettings::default()));
        let out = html("console/portal.html", ctx);
        assert!(out.len() < 30 * 1024, "{} bytes", out.len());
        assert_eq!(out.matches("name=\"accept\"").count(), 20);
        assert!(out.contains("Next page") && out.contains("First page"));
    }
}

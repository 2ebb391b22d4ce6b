//! The console's pure parts: tabs, the template contexts built from the use cases' results,
//! the forms read into the JSON routes' bodies, and the errors of the use cases placed next to
//! their fields. No I/O. One file per area: `developers` (the state tabs and their row
//! actions), `developer` (a developer's detail), `invites`, `teams`, `audit`, `webhooks`,
//! `settings`; this file keeps the tabs and what they share.

pub mod audit;
pub mod developer;
pub mod developers;
pub mod invites;
pub mod settings;
pub mod teams;
pub mod templates;
pub mod webhooks;

use serde_json::{json, Value};

use crate::domain::{Developer, DeveloperState, FieldError};
use crate::error::AppError;
use crate::store::StateCounts;
pub use developers::Action;

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

pub(super) fn day(t: &crate::domain::Timestamp) -> String {
    t.format("%-d %b %Y %H:%M").to_string()
}

pub(super) fn urlencoded(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

/// What the render tests of every area start from.
#[cfg(test)]
pub(crate) mod render_support {
    use serde_json::{json, Map, Value};

    use crate::domain::{Developer, DeveloperState};
    use crate::pages::render::render;

    pub fn base(title: &str) -> Map<String, Value> {
        let mut ctx = Map::new();
        ctx.insert("title".into(), title.into());
        ctx.insert("site".into(), json!({ "name": "Gatehouse", "home_url": "/console/portals", "kind": "console" }));
        ctx.insert("csrf_token".into(), "t".into());
        ctx.insert("user".into(), json!({ "name": "ops …abcd", "sign_out_action": "/console/sign-out" }));
        ctx
    }

    pub fn html(template: &str, ctx: Map<String, Value>) -> String {
        render(template, &minijinja::Value::from_serialize(Value::Object(ctx))).unwrap_or_else(|e| panic!("{template}: {e:#}"))
    }

    pub fn developer(name: &str) -> Developer {
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
}

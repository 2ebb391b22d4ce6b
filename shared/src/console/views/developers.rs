//! The state tabs (Requested access, Approved, Revoked, Rejected): their row actions
//! (Kong Manager's), the confirmation of the irreversible ones, the search, bulk form and pager.

use serde_json::{json, Value};

use super::{day, display_name, urlencoded, Tab};
use crate::domain::{Developer, PortalSettings, RejectAction};
use crate::store::Page;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}

#[cfg(test)]
mod render_tests {
    use super::super::render_support::{base, developer, html};
    use super::super::tabs;
    use super::*;
    use crate::store::StateCounts;

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

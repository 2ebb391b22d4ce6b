//! A developer's detail page: profile, teams, applications and keys (read-only), history.

use serde_json::{json, Value};

use super::audit::event_row;
use super::{day, display_name};
use crate::domain::{Application, Credential, Developer, LifecycleEvent, Team};

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
mod render_tests {
    use super::super::render_support::{base, developer, html};
    use super::*;

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
}

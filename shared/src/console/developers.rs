//! The state tabs: their list, the row and bulk decisions (through the use cases the JSON
//! admin API calls) and the confirmation page of the irreversible ones.

use serde_json::{json, Value};
use uuid::Uuid;

use super::views::{self, Action, Tab};
use super::{decision_message, not_found, portal_base, portal_page, Console, ConsoleStore, View, MAX_BULK, PAGE_SIZE};
use crate::domain::{DeveloperState, Portal, Timestamp};
use crate::error::AppError;
use crate::lifecycle::{DeveloperPatch, ListParams};
use crate::pages::web::Form;
use crate::pages::PageResponse;
use crate::store::AdminToken;

#[allow(clippy::too_many_arguments)]
pub(super) async fn developers_section<S: ConsoleStore>(
    store: &S,
    token: &AdminToken,
    portal: &Portal,
    base: &str,
    tab: Tab,
    state: DeveloperState,
    c: &Console<'_>,
) -> Result<Value, AppError> {
    let q = c.req.query("q").map(str::trim).filter(|q| !q.is_empty()).map(str::to_string);
    let cursor = c.req.query("cursor").map(str::to_string).filter(|c| !c.is_empty());
    let params =
        ListParams { state: Some(state.as_str().into()), q: q.clone(), limit: Some(PAGE_SIZE.to_string()), cursor: cursor.clone() };
    let page = crate::lifecycle::list_developers(store, token, portal.id, params).await?;
    Ok(views::developers::developers(base, tab, &page, q.as_deref(), cursor.is_some(), &portal.settings))
}

/// One decision on one developer, through the use case the JSON admin API calls for it.
pub(super) async fn act<S: ConsoleStore>(
    store: &S,
    token: &AdminToken,
    portal: &Portal,
    action: Action,
    id: Uuid,
    now: Timestamp,
) -> Result<(), AppError> {
    let status = |s: &str| DeveloperPatch { status: Some(s.into()), state: None, name: None };
    match action {
        Action::Accept | Action::Reject => {
            let dev = crate::access::developer_for(store, token, portal.id, id).await?;
            let Some(approval) = dev.approval_id.filter(|_| dev.state == DeveloperState::Pending) else {
                return Err(AppError::Conflict(format!("this developer is already {}", dev.state.as_str())));
            };
            crate::approvals::decide_approval(store, token, approval, action == Action::Accept, now).await.map(|_| ())
        }
        Action::Revoke => crate::lifecycle::patch_developer(store, token, portal.id, id, status("revoked"), now).await.map(|_| ()),
        Action::Reapprove | Action::Approve => {
            crate::lifecycle::patch_developer(store, token, portal.id, id, status("approved"), now).await.map(|_| ())
        }
        Action::Delete => crate::lifecycle::delete_developer(store, token, portal.id, id, now).await,
    }
}

pub(super) async fn decide<S: ConsoleStore>(store: &S, c: Console<'_>, portal: &Portal, form: &Form, now: Timestamp) -> PageResponse {
    let token = c.token().clone();
    let tab = Tab::parse(form.get("tab")).unwrap_or(Tab::Requested);
    // A row's button: `<action>=<developer id>`.
    if let Some((action, id)) = super::row_button(form, &Action::ALL.map(|a| (a.key(), a))) {
        let Some(id) = id else { return not_found(c) };
        let done = act(store, &token, portal, action, id, now).await.map(|()| action.flash());
        return super::tab_outcome(store, c, portal, tab, done, decision_message, now).await;
    }
    // The bulk form: `action` and every selected `developer`, one outcome each.
    let Some(action) = Action::parse(form.get("action")) else { return not_found(c) };
    let ids: Vec<Uuid> = form.all("developer").iter().filter_map(|d| d.parse().ok()).take(MAX_BULK).collect();
    if ids.is_empty() {
        let view = View {
            status: Some(400),
            errors: vec![json!({ "message": "Select at least one developer first." })],
            tab: Some(tab),
            ..Default::default()
        };
        return portal_page(store, c, portal, view, now).await;
    }
    let outcomes = futures::future::join_all(ids.iter().map(|id| {
        let token = &token;
        async move {
            let who = crate::access::developer_for(store, token, portal.id, *id).await.map(|d| views::display_name(&d)).ok();
            (who, act(store, token, portal, action, *id, now).await)
        }
    }))
    .await;
    let outcome = super::results::Outcome::Bulk(bulk_outcome(portal, tab, action, &outcomes));
    super::results::keep(store, c, portal, outcome, now).await
}

/// The outcome of a bulk decision, per developer: what its result page shows.
pub(super) fn bulk_outcome(portal: &Portal, tab: Tab, action: Action, outcomes: &[(Option<String>, Result<(), AppError>)]) -> Value {
    let done = outcomes.iter().filter(|(_, r)| r.is_ok()).count();
    let rows: Vec<Value> = outcomes
        .iter()
        .enumerate()
        .map(|(i, (who, r))| {
            let outcome = match r {
                Ok(()) => action.done_label().to_string(),
                Err(e) => format!("Not changed: {}", decision_message(e)),
            };
            json!({ "id": i, "cells": { "developer": who.clone().unwrap_or_else(|| "A developer no longer there".into()), "outcome": outcome } })
        })
        .collect();
    json!({
        "heading": format!("{} {} of {}", action.done_label(), done, outcomes.len()),
        "table": { "id": "outcomes", "caption": "Outcome per developer", "columns": [{ "key": "developer", "label": "Developer" }, { "key": "outcome", "label": "Outcome" }], "rows": rows },
        "next": { "label": format!("Back to {}", tab.label()), "href": views::tab_url(&portal_base(portal), tab) },
    })
}

/// The confirmation page a dialog's opener leads to without JavaScript.
pub(super) async fn confirm<S: ConsoleStore>(store: &S, mut c: Console<'_>, portal: &Portal) -> PageResponse {
    let Some((action, id)) = [Action::Reject, Action::Revoke, Action::Delete]
        .iter()
        .find_map(|a| c.req.query(a.key()).and_then(|v| v.parse::<Uuid>().ok()).map(|v| (*a, v)))
    else {
        return not_found(c);
    };
    let dev = match crate::access::developer_for(store, c.token(), portal.id, id).await {
        Ok(d) => d,
        Err(e) => return c.error_page(&e),
    };
    let tab = c.req.query("tab").and_then(Tab::parse).unwrap_or(Tab::Requested);
    let base = portal_base(portal);
    let mut confirm = views::developers::dialog(&base, action, tab, &portal.settings);
    confirm["subject"] = views::display_name(&dev).into();
    confirm["fields"][action.key()] = id.to_string().into();
    confirm["cancel_href"] = views::tab_url(&base, tab).into();
    let mut ctx = c.context(confirm["title"].as_str().unwrap_or_default(), vec![]);
    ctx.insert("confirm".into(), confirm);
    c.html(200, "confirm.html", ctx)
}

//! The portal picker: every portal for a global token (paged, newest last), a portal-scoped
//! token's own portal, and a portal opened by its id.

use serde_json::{json, Value};
use uuid::Uuid;

use super::{Console, ConsoleStore, HOME};
use crate::pages::PageResponse;

pub(super) async fn portals<S: ConsoleStore>(store: &S, mut c: Console<'_>) -> PageResponse {
    let scoped = c.token().scope.parse::<Uuid>().ok();
    // A global token pages through every portal (the portal index: one Query per page);
    // a portal-scoped one sees its own portal only.
    let cursor = c.req.query("cursor").map(str::to_string);
    let page = match crate::portals::list_portals(store, c.token(), PAGE, cursor).await {
        Ok(p) => p,
        Err(crate::error::AppError::NotFound { .. }) => crate::store::Page { items: vec![], total: Some(0), next_cursor: None },
        Err(e) => return c.error_page(&e),
    };
    let mut ctx = c.context("Portals", vec![]);
    let list: Vec<Value> = page
        .items
        .iter()
        .map(|p| json!({ "name": p.name, "href": format!("/console/portals/{}", p.id), "id": p.id, "created": super::views::day(&p.created_at) }))
        .collect();
    ctx.insert("portals".into(), Value::Array(list));
    ctx.insert("next".into(), page.next_cursor.map(|n| format!("/console/portals?cursor={}", super::views::urlencoded(&n))).into());
    ctx.insert("scoped".into(), scoped.is_some().into());
    ctx.insert(
        "open".into(),
        json!({ "action": "/console/open", "field": { "name": "portal_id", "label": "Portal ID", "autocomplete": "off", "required": true,
                 "hint": "The portal's UUID, as POST /api/portals answered it." } }),
    );
    c.html(200, "console/portals.html", ctx)
}

/// Portals per page of the picker.
const PAGE: usize = 50;

pub(super) fn open_portal(c: Console<'_>) -> PageResponse {
    match c.req.query("portal_id").map(str::trim).unwrap_or_default().parse::<Uuid>() {
        Ok(p) => c.redirect(&format!("/console/portals/{p}"), None),
        Err(_) => c.message(404, "Not found", "That is not a portal ID. A portal ID is a UUID.", ("Go to the portals", HOME)),
    }
}

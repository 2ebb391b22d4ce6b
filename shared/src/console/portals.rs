//! The portal picker (a portal-scoped token's portal, or a portal opened by its id).

use serde_json::{json, Value};
use uuid::Uuid;

use super::{Console, ConsoleStore, HOME};
use crate::pages::PageResponse;

pub(super) async fn portals<S: ConsoleStore>(store: &S, mut c: Console<'_>) -> PageResponse {
    let scoped = c.token().scope.parse::<Uuid>().ok();
    let mut ctx = c.context("Portals", vec![]);
    let mut list = vec![];
    if let Some(p) = scoped {
        match store.get_portal(p).await {
            Ok(Some(portal)) => {
                list.push(json!({ "name": portal.name, "href": format!("/console/portals/{}", portal.id), "id": portal.id }))
            }
            Ok(None) => {}
            Err(e) => return c.error_page(&e.into()),
        }
    }
    ctx.insert("portals".into(), Value::Array(list));
    ctx.insert("scoped".into(), scoped.is_some().into());
    ctx.insert(
        "open".into(),
        json!({ "action": "/console/open", "field": { "name": "portal_id", "label": "Portal ID", "autocomplete": "off", "required": true,
                 "hint": "The portal's UUID, as POST /api/portals answered it." } }),
    );
    c.html(200, "console/portals.html", ctx)
}

pub(super) fn open_portal(c: Console<'_>) -> PageResponse {
    match c.req.query("portal_id").map(str::trim).unwrap_or_default().parse::<Uuid>() {
        Ok(p) => c.redirect(&format!("/console/portals/{p}"), None),
        Err(_) => c.message(404, "Not found", "That is not a portal ID. A portal ID is a UUID.", ("Go to the portals", HOME)),
    }
}

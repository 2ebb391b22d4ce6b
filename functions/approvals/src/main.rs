//! Approval actions and developer administration:
//! `GET /api/approvals`, `POST /api/approvals/{id}/accept|reject`,
//! `GET /api/portals/{portal_id}/developers`, `GET|PATCH|DELETE .../developers/{developer_id}`,
//! and the audit trail: `GET /api/portals/{portal_id}/events`, `GET .../developers/{developer_id}/events`.

use gatehouse::approvals;
use gatehouse::audit::{self, EventParams};
use gatehouse::domain::audit::event_view;
use gatehouse::domain::{Developer, DeveloperView};
use gatehouse::http::{self, json, no_content, parse_json, parse_uuid, query, route_not_found, segments, HttpResult};
use gatehouse::lifecycle::{self, ListParams};
use gatehouse::wiring::{Ctx, Wiring};
use lambda_http::{http::Method, Request};
use serde_json::json as j;

async fn handle(ctx: &Ctx, req: Request) -> HttpResult {
    let path = segments(&req);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let token = http::admin(&ctx.store, &req, ctx.now(&req)).await?;
    let now = ctx.clock.now();
    let store = &ctx.store;
    match (req.method().clone(), path.as_slice()) {
        (Method::GET, ["api", "approvals"]) => {
            let page = approvals::list_approvals(
                store,
                &token,
                query(&req, "event"),
                query(&req, "status"),
                query(&req, "portal_id"),
                query(&req, "limit"),
                query(&req, "cursor"),
            )
            .await?;
            json(200, &j!({ "list": page.items, "next_cursor": page.next_cursor }))
        }
        (Method::POST, ["api", "approvals", id, action @ ("accept" | "reject")]) => {
            let id = parse_uuid(id, "approval")?;
            let approval = approvals::decide_approval(store, &token, id, *action == "accept", now).await?;
            json(200, &approval)
        }
        (Method::GET, ["api", "portals", portal, "developers"]) => {
            let portal = parse_uuid(portal, "portal")?;
            let params =
                ListParams { state: query(&req, "state"), q: query(&req, "q"), limit: query(&req, "limit"), cursor: query(&req, "cursor") };
            let page = lifecycle::list_developers(store, &token, portal, params).await?;
            let list: Vec<DeveloperView> = page.items.iter().map(Developer::view).collect();
            json(200, &j!({ "list": list, "total": page.total, "next_cursor": page.next_cursor }))
        }
        (Method::GET, ["api", "portals", portal, "events"]) => events(ctx, &req, &token, portal, None).await,
        (Method::GET, ["api", "portals", portal, "developers", id, "events"]) => events(ctx, &req, &token, portal, Some(id)).await,
        (method, ["api", "portals", portal, "developers", id]) => {
            let portal = parse_uuid(portal, "portal")?;
            let id = parse_uuid(id, "developer")?;
            match method {
                Method::GET => json(200, &lifecycle::developer_for(store, &token, portal, id).await?.view()),
                Method::PATCH => {
                    let patch = parse_json(&req)?;
                    let changed = lifecycle::patch_developer(store, &token, portal, id, patch, now).await?;
                    json(200, &changed.developer().view())
                }
                Method::DELETE => {
                    lifecycle::delete_developer(store, &token, portal, id, now).await?;
                    no_content()
                }
                _ => Err(route_not_found()),
            }
        }
        _ => Err(route_not_found()),
    }
}

/// A page of the audit trail (the portal's, or one developer's history).
async fn events(ctx: &Ctx, req: &Request, token: &gatehouse::store::AdminToken, portal: &str, developer: Option<&str>) -> HttpResult {
    let portal = parse_uuid(portal, "portal")?;
    let developer = developer.map(|d| parse_uuid(d, "developer")).transpose()?;
    let params = EventParams {
        event_type: query(req, "type"),
        developer_id: query(req, "developer_id"),
        actor: query(req, "actor"),
        since: query(req, "since"),
        until: query(req, "until"),
        limit: query(req, "limit"),
        cursor: query(req, "cursor"),
    };
    let page = audit::list_events(&ctx.store, token, portal, developer, &params).await?;
    let list: Vec<serde_json::Value> = page.items.iter().map(event_view).collect();
    json(200, &j!({ "list": list, "next_cursor": page.next_cursor }))
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let ctx = Wiring::load(env!("CARGO_PKG_NAME")).await.ctx();
    http::serve(|req| handle(&ctx, req)).await
}

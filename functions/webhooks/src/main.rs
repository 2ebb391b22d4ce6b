//! Webhook endpoints of a portal (admin token):
//! `POST|GET /api/portals/{portal_id}/webhooks`, `GET|PATCH|DELETE .../webhooks/{webhook_id}`,
//! `POST .../webhooks/{webhook_id}/rotate-secret`, `POST .../test`, `GET .../deliveries`,
//! `POST .../replay` (its first step goes on the delivery queue).

use gatehouse::domain::webhooks::UrlPolicy;
use gatehouse::http::{self, json, no_content, parse_json, parse_uuid, query, route_not_found, segments, HttpResult};
use gatehouse::sqs::Sqs;
use gatehouse::webhooks::{self, DeliveryParams};
use gatehouse::wiring::{Ctx, Wiring};
use lambda_http::{http::Method, Request};
use serde_json::json as j;

async fn handle(ctx: &Ctx, queue: Option<&Sqs>, req: Request) -> HttpResult {
    let path = segments(&req);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let now = ctx.now(&req);
    let store = &ctx.store;
    let policy = UrlPolicy { allow_loopback_http: ctx.config.webhook_allow_loopback_http };
    let (portal, rest) = match path.as_slice() {
        ["api", "portals", portal, "webhooks", rest @ ..] => (parse_uuid(portal, "portal")?, rest),
        _ => return Err(route_not_found()),
    };
    let token = http::admin(store, &req, now).await?;
    match (req.method().clone(), rest) {
        (Method::POST, []) => {
            let w = webhooks::create(store, &token, portal, policy, parse_json(&req)?, now).await?;
            let mut view = j!(w.view());
            view["secret"] = j!(w.secret);
            json(201, &view)
        }
        (Method::GET, []) => {
            let list: Vec<_> = webhooks::list(store, &token, portal).await?.iter().map(|w| j!(w.view())).collect();
            json(200, &j!({ "list": list }))
        }
        (Method::GET, [id]) => json(200, &webhooks::get(store, &token, portal, parse_uuid(id, "webhook")?).await?.view()),
        (Method::PATCH, [id]) => {
            json(200, &webhooks::update(store, &token, portal, parse_uuid(id, "webhook")?, policy, parse_json(&req)?, now).await?.view())
        }
        (Method::DELETE, [id]) => {
            webhooks::delete(store, &token, portal, parse_uuid(id, "webhook")?).await?;
            no_content()
        }
        (Method::POST, [id, "rotate-secret"]) => {
            let overlap = ctx.config.webhook_rotation_overlap_seconds;
            json(200, &j!({ "secret": webhooks::rotate_secret(store, &token, portal, parse_uuid(id, "webhook")?, overlap, now).await? }))
        }
        (Method::POST, [id, "test"]) => {
            let event = webhooks::send_test(store, &token, portal, parse_uuid(id, "webhook")?, now).await?;
            json(202, &j!({ "event_id": event.id }))
        }
        (Method::GET, [id, "deliveries"]) => {
            let params = DeliveryParams { status: query(&req, "status"), limit: query(&req, "limit"), cursor: query(&req, "cursor") };
            let page = webhooks::list_deliveries(store, &token, portal, parse_uuid(id, "webhook")?, &params).await?;
            let list: Vec<_> = page.items.iter().map(|d| j!(d.view())).collect();
            json(200, &j!({ "list": list, "next_cursor": page.next_cursor }))
        }
        (Method::POST, [id, "replay"]) => {
            let queue = queue.ok_or_else(|| gatehouse::error::AppError::Unavailable("the delivery queue is not configured".into()))?;
            let id = parse_uuid(id, "webhook")?;
            let replay_id = gatehouse::replay::start(store, queue, &token, portal, id, parse_json(&req)?, now).await?;
            json(202, &j!({ "replay_id": replay_id }))
        }
        _ => Err(route_not_found()),
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let wiring = Wiring::load(env!("CARGO_PKG_NAME")).await;
    let (ctx, queue) = (wiring.ctx(), wiring.delivery_queue().ok());
    http::serve(|req| handle(&ctx, queue.as_ref(), req)).await
}

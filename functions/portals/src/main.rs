//! Admin routes for portals: `POST /api/portals`, `GET|PATCH /api/portals/{portal_id}`.

use gatehouse::http::{self, json, parse_json, parse_uuid, route_not_found, segments, HttpResult};
use gatehouse::portals;
use gatehouse::wiring::{Ctx, Wiring};
use lambda_http::{http::Method, Request};

async fn handle(ctx: &Ctx, req: Request) -> HttpResult {
    let path = segments(&req);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let token = http::admin(&ctx.store, &req, ctx.now(&req)).await?;
    let now = ctx.clock.now();
    match (req.method().clone(), path.as_slice()) {
        (Method::POST, ["api", "portals"]) => {
            let body = parse_json(&req)?;
            let portal = portals::create_portal(&ctx.store, &ctx.config, &token, body, now).await?;
            json(201, &portal.view())
        }
        (Method::GET, ["api", "portals", id]) => {
            let portal = portals::portal_for(&ctx.store, &token, parse_uuid(id, "portal")?).await?;
            json(200, &portal.view())
        }
        (Method::PATCH, ["api", "portals", id]) => {
            let id = parse_uuid(id, "portal")?;
            let patch = parse_json(&req)?;
            let portal = portals::patch_portal(&ctx.store, &ctx.config, &token, id, patch, now).await?;
            json(200, &portal.view())
        }
        _ => Err(route_not_found()),
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let ctx = Wiring::load(env!("CARGO_PKG_NAME")).await.ctx();
    http::serve(|req| handle(&ctx, req)).await
}

//! Developer self-registration: `POST /api/portals/{portal_id}/register`.

use gatehouse::http::{self, json, parse_json, parse_uuid, route_not_found, segments, HttpResult};
use gatehouse::registration;
use gatehouse::wiring::{Ctx, Wiring};
use lambda_http::{http::Method, Request};
use serde_json::json as j;

async fn handle(ctx: &Ctx, req: Request) -> HttpResult {
    let path = segments(&req);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    match (req.method().clone(), path.as_slice()) {
        (Method::POST, ["api", "portals", portal, "register"]) => {
            let portal = parse_uuid(portal, "portal")?;
            let body = parse_json(&req)?;
            let done =
                registration::register(&ctx.store, ctx.config_with_secret().await?, portal, body, &ctx.client_ip(&req), ctx.now(&req))
                    .await?;
            json(202, &j!({ "id": done.id, "state": "pending" }))
        }
        _ => Err(route_not_found()),
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let ctx = Wiring::load(env!("CARGO_PKG_NAME")).await.ctx_with_token_secret();
    http::serve(|req| handle(&ctx, req)).await
}

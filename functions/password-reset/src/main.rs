//! Account recovery: `POST /api/portals/{portal_id}/password-reset`,
//! `POST .../password-reset/confirm`, and email verification `POST .../verify-email`.

use gatehouse::http::{self, json, no_content, parse_json, parse_uuid, route_not_found, segments, HttpResult};
use gatehouse::recovery;
use gatehouse::wiring::{Ctx, Wiring};
use lambda_http::{http::Method, Request};

async fn handle(ctx: &Ctx, req: Request) -> HttpResult {
    let path = segments(&req);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let now = ctx.now(&req);
    let store = &ctx.store;
    match (req.method().clone(), path.as_slice()) {
        (Method::POST, ["api", "portals", portal, "password-reset"]) => {
            recovery::request_reset(store, parse_uuid(portal, "portal")?, parse_json(&req)?, now).await?;
            // The same answer whether or not the address is known.
            json(
                202,
                &serde_json::json!({ "status": "accepted", "detail": "if an approved account uses this address, a reset link is on its way" }),
            )
        }
        (Method::POST, ["api", "portals", portal, "password-reset", "confirm"]) => {
            recovery::confirm_reset(store, parse_uuid(portal, "portal")?, parse_json(&req)?, now).await?;
            no_content()
        }
        (Method::POST, ["api", "portals", portal, "verify-email"]) => {
            recovery::verify_email(store, parse_uuid(portal, "portal")?, parse_json(&req)?, now).await?;
            no_content()
        }
        _ => Err(route_not_found()),
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let ctx = Wiring::load(env!("CARGO_PKG_NAME")).await.ctx();
    http::serve(|req| handle(&ctx, req)).await
}

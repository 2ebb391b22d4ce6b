//! Developer sessions: `POST /api/portals/{portal_id}/login`, `GET .../me`,
//! `POST .../me/password`, `POST .../logout`.

use gatehouse::http::{self, bearer, json, no_content, parse_json, parse_uuid, route_not_found, segments, HttpResult};
use gatehouse::sessions;
use gatehouse::store::SessionStore;
use gatehouse::wiring::{Ctx, Wiring};
use lambda_http::{http::Method, Request};
use serde_json::json as j;

async fn handle(ctx: &Ctx, req: Request) -> HttpResult {
    let path = segments(&req);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let now = ctx.now(&req);
    let store = &ctx.store;
    let (method, portal, rest) = match path.as_slice() {
        ["api", "portals", portal, rest @ ..] => (req.method().clone(), parse_uuid(portal, "portal")?, rest),
        _ => return Err(route_not_found()),
    };
    match (method, rest) {
        (Method::POST, ["login"]) => {
            let body = parse_json(&req)?;
            let done = sessions::login(store, &ctx.config, portal, body, &ctx.client_ip(&req), now).await?;
            json(200, &j!({ "token": done.token, "expires_at": done.expires_at, "developer": done.developer.view() }))
        }
        (Method::GET, ["me"]) => {
            let auth = sessions::authenticate(store, bearer(&req), portal, now).await?;
            json(200, &auth.developer.view())
        }
        (Method::POST, ["me", "password"]) => {
            let auth = sessions::authenticate(store, bearer(&req), portal, now).await?;
            let body = parse_json(&req)?;
            sessions::change_password(store, auth, body, &ctx.client_ip(&req), now).await?;
            no_content()
        }
        (Method::POST, ["logout"]) => {
            // Allowed also before a one-time password is changed (as `/me` and the change are).
            let auth = sessions::authenticate(store, bearer(&req), portal, now).await?;
            store.delete_session(auth.developer.id, &auth.session.token_hash).await?;
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

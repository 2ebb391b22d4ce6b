//! Single sign-on (issue 17). Admin: `POST|GET /api/portals/{portal_id}/identity-providers`,
//! `GET|PATCH|DELETE /api/portals/{portal_id}/identity-providers/{idp_id}`.

use gatehouse::domain::IdentityProvider;
use gatehouse::http::{self, json, no_content, parse_json, parse_uuid, route_not_found, segments, HttpResult};
use gatehouse::kms::Kms;
use gatehouse::sso::{self, IssuerPolicy};
use gatehouse::wiring::{Ctx, Wiring};
use lambda_http::{http::Method, Request};
use serde_json::json as j;

async fn handle(ctx: &Ctx, kms: &Kms, req: Request) -> HttpResult {
    let path = segments(&req);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let now = ctx.now(&req);
    let store = &ctx.store;
    let policy = IssuerPolicy { allow_loopback_http: ctx.config.sso_allow_loopback_http };
    let token = http::admin(store, &req, now).await?;
    match (req.method().clone(), path.as_slice()) {
        (Method::POST, ["api", "portals", portal, "identity-providers"]) => {
            let idp = sso::create_idp(store, kms, &token, parse_uuid(portal, "portal")?, parse_json(&req)?, policy, now).await?;
            json(201, &idp.view())
        }
        (Method::GET, ["api", "portals", portal, "identity-providers"]) => {
            let list = sso::list_idps(store, &token, parse_uuid(portal, "portal")?).await?;
            json(200, &j!({ "list": list.iter().map(IdentityProvider::view).collect::<Vec<_>>() }))
        }
        (Method::GET, ["api", "portals", portal, "identity-providers", idp]) => {
            let idp = sso::idp_for(store, &token, parse_uuid(portal, "portal")?, parse_uuid(idp, "identity provider")?).await?;
            json(200, &idp.view())
        }
        (Method::PATCH, ["api", "portals", portal, "identity-providers", idp]) => {
            let (portal, idp) = (parse_uuid(portal, "portal")?, parse_uuid(idp, "identity provider")?);
            let idp = sso::update_idp(store, kms, &token, portal, idp, parse_json(&req)?, policy, now).await?;
            json(200, &idp.view())
        }
        (Method::DELETE, ["api", "portals", portal, "identity-providers", idp]) => {
            sso::delete_idp(store, &token, parse_uuid(portal, "portal")?, parse_uuid(idp, "identity provider")?).await?;
            no_content()
        }
        _ => Err(route_not_found()),
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let wiring = Wiring::load(env!("CARGO_PKG_NAME")).await;
    let (ctx, kms) = (wiring.ctx(), wiring.kms());
    http::serve(|req| handle(&ctx, &kms, req)).await
}

//! Applications, API keys and product subscriptions of an approved developer (session):
//! `POST|GET /api/portals/{portal_id}/applications`, `GET|DELETE .../applications/{id}`,
//! `POST|GET .../applications/{id}/credentials`, `DELETE .../credentials/{credential_id}`,
//! `POST .../applications/{id}/subscriptions`, `DELETE .../subscriptions/{product}`;
//! and for admins `GET /api/portals/{portal_id}/developers/{developer_id}/applications`.

use gatehouse::applications;
use gatehouse::http::{self, bearer, json, no_content, parse_json, parse_uuid, route_not_found, segments, HttpResult};
use gatehouse::sessions;
use gatehouse::wiring::{Ctx, Wiring};
use lambda_http::{http::Method, Request};
use serde_json::json as j;

async fn handle(ctx: &Ctx, req: Request) -> HttpResult {
    let path = segments(&req);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let now = ctx.now(&req);
    let store = &ctx.store;
    let (portal, rest) = match path.as_slice() {
        ["api", "portals", portal, rest @ ..] => (parse_uuid(portal, "portal")?, rest),
        _ => return Err(route_not_found()),
    };
    if let (&Method::GET, ["developers", dev, "applications"]) = (req.method(), rest) {
        let token = http::admin(store, &req, ctx.now(&req)).await?;
        let list = applications::developer_apps(store, &token, portal, parse_uuid(dev, "developer")?).await?;
        let list: Vec<_> = list.iter().map(|a| a.view()).collect();
        return json(200, &j!({ "list": list }));
    }
    let auth = sessions::authenticate(store, bearer(&req), portal, now).await?;
    match (req.method().clone(), rest) {
        (Method::POST, ["applications"]) => json(201, &applications::create_app(store, auth, parse_json(&req)?, now).await?.view()),
        (Method::GET, ["applications"]) => {
            let list: Vec<_> = applications::list_apps(store, &auth).await?.iter().map(|a| a.view()).collect();
            json(200, &j!({ "list": list }))
        }
        (Method::GET, ["applications", app]) => {
            json(200, &applications::get_app(store, &auth, parse_uuid(app, "application")?).await?.view())
        }
        (Method::DELETE, ["applications", app]) => {
            applications::delete_app(store, auth, parse_uuid(app, "application")?, now).await?;
            no_content()
        }
        (Method::POST, ["applications", app, "credentials"]) => {
            let (c, key) = applications::create_credential(store, &auth, parse_uuid(app, "application")?, now).await?;
            let mut view = c.view();
            view["key"] = j!(key);
            json(201, &view)
        }
        (Method::GET, ["applications", app, "credentials"]) => {
            let list: Vec<_> =
                applications::list_credentials(store, &auth, parse_uuid(app, "application")?).await?.iter().map(|c| c.view()).collect();
            json(200, &j!({ "list": list }))
        }
        (Method::DELETE, ["applications", app, "credentials", id]) => {
            applications::delete_credential(store, &auth, parse_uuid(app, "application")?, parse_uuid(id, "credential")?, now).await?;
            no_content()
        }
        (Method::POST, ["applications", app, "subscriptions"]) => {
            json(201, &applications::subscribe(store, &auth, parse_uuid(app, "application")?, parse_json(&req)?, now).await?.view())
        }
        (Method::DELETE, ["applications", app, "subscriptions", product]) => {
            applications::unsubscribe(store, &auth, parse_uuid(app, "application")?, product, now).await?;
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

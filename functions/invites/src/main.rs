//! Invites: `POST /api/portals/{portal_id}/developers/invites` (links or a one-time password),
//! `GET .../invites`, `DELETE .../invites/{id}`, `POST .../invites/{id}/resend` (admin), and
//! `POST .../invites/accept` (public, with the link's token).

use gatehouse::http::{self, json, no_content, parse_json, parse_uuid, query, route_not_found, segments, HttpResult};
use gatehouse::invites::{self, InviteRequest};
use gatehouse::wiring::{Ctx, Wiring};
use lambda_http::{http::Method, Request};
use serde_json::json as j;

async fn handle(ctx: &Ctx, req: Request) -> HttpResult {
    let path = segments(&req);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let now = ctx.now(&req);
    let store = &ctx.store;
    if let (&Method::POST, ["api", "portals", portal, "invites", "accept"]) = (req.method(), path.as_slice()) {
        let portal = parse_uuid(portal, "portal")?;
        let body = parse_json(&req)?;
        let dev = invites::accept_invite(store, portal, body, now).await?;
        return json(201, &dev.view());
    }
    let token = http::admin(store, &req, ctx.now(&req)).await?;
    match (req.method().clone(), path.as_slice()) {
        (Method::POST, ["api", "portals", portal, "developers", "invites"]) => {
            let portal = parse_uuid(portal, "portal")?;
            match InviteRequest::from_body(parse_json(&req)?)? {
                InviteRequest::Links(body) => {
                    let invites = invites::invite_links(store, ctx.config_with_secret().await?, &token, portal, body, now).await?;
                    json(201, &j!({ "invites": invites }))
                }
                InviteRequest::Password(body) => {
                    let dev = invites::invite_with_password(store, &token, portal, body, now).await?;
                    json(201, &dev.view())
                }
            }
        }
        (Method::GET, ["api", "portals", portal, "invites"]) => {
            let portal = parse_uuid(portal, "portal")?;
            let page =
                invites::list_invites(store, &token, portal, query(&req, "status"), query(&req, "limit"), query(&req, "cursor"), now)
                    .await?;
            let list: Vec<_> = page.items.iter().map(|i| i.view(now)).collect();
            json(200, &j!({ "list": list, "next_cursor": page.next_cursor }))
        }
        (Method::DELETE, ["api", "portals", portal, "invites", id]) => {
            invites::withdraw_invite(store, &token, parse_uuid(portal, "portal")?, parse_uuid(id, "invite")?, now).await?;
            no_content()
        }
        (Method::POST, ["api", "portals", portal, "invites", id, "resend"]) => {
            let invite = invites::resend_invite(
                store,
                ctx.config_with_secret().await?,
                &token,
                parse_uuid(portal, "portal")?,
                parse_uuid(id, "invite")?,
                now,
            )
            .await?;
            json(200, &invite.view(now))
        }
        _ => Err(route_not_found()),
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let ctx = Wiring::load(env!("CARGO_PKG_NAME")).await.ctx_with_token_secret();
    http::serve(|req| handle(&ctx, req)).await
}

//! Teams (admin): `POST|GET /api/portals/{portal_id}/teams`,
//! `POST|GET /api/portals/{portal_id}/teams/{team_id}/developers`,
//! `DELETE /api/portals/{portal_id}/teams/{team_id}/developers/{developer_id}`.

use gatehouse::domain::{Developer, DeveloperView};
use gatehouse::http::{self, json, no_content, parse_json, parse_uuid, query, route_not_found, segments, HttpResult};
use gatehouse::teams;
use gatehouse::wiring::{Ctx, Wiring};
use lambda_http::{http::Method, Request};
use serde_json::json as j;

async fn handle(ctx: &Ctx, req: Request) -> HttpResult {
    let path = segments(&req);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let token = http::admin(&ctx.store, &req, ctx.now(&req)).await?;
    let now = ctx.now(&req);
    let store = &ctx.store;
    match (req.method().clone(), path.as_slice()) {
        (Method::POST, ["api", "portals", portal, "teams"]) => {
            let team = teams::create_team(store, &token, parse_uuid(portal, "portal")?, parse_json(&req)?, now).await?;
            json(201, &team)
        }
        (Method::GET, ["api", "portals", portal, "teams"]) => {
            let page = teams::list_teams(store, &token, parse_uuid(portal, "portal")?, query(&req, "limit"), query(&req, "cursor")).await?;
            json(200, &j!({ "list": page.items, "next_cursor": page.next_cursor }))
        }
        (Method::POST, ["api", "portals", portal, "teams", team, "developers"]) => {
            let (portal, team) = (parse_uuid(portal, "portal")?, parse_uuid(team, "team")?);
            let dev = teams::add_member(store, &token, portal, team, parse_json(&req)?, now).await?;
            json(201, &j!({ "team_id": team, "developer": dev.view() }))
        }
        (Method::GET, ["api", "portals", portal, "teams", team, "developers"]) => {
            let (portal, team) = (parse_uuid(portal, "portal")?, parse_uuid(team, "team")?);
            let page = teams::members(store, &token, portal, team, query(&req, "limit"), query(&req, "cursor")).await?;
            let list: Vec<DeveloperView> = page.items.iter().map(Developer::view).collect();
            json(200, &j!({ "list": list, "total": page.total, "next_cursor": page.next_cursor }))
        }
        (Method::DELETE, ["api", "portals", portal, "teams", team, "developers", dev]) => {
            teams::remove_member(
                store,
                &token,
                parse_uuid(portal, "portal")?,
                parse_uuid(team, "team")?,
                parse_uuid(dev, "developer")?,
                now,
            )
            .await?;
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

//! Single sign-on (issue 17). Admin: `POST|GET /api/portals/{portal_id}/identity-providers`,
//! `GET|PATCH|DELETE /api/portals/{portal_id}/identity-providers/{idp_id}`. The sign-in (no
//! token): `GET /api/portals/{portal_id}/sso/{idp_id}/start?return_to=` (302 to the provider,
//! cookie `gatehouse_sso`) and `GET .../sso/{idp_id}/callback?code=&state=` (302 to `return_to`
//! with the session cookie `gatehouse_session`).

use gatehouse::domain::IdentityProvider;
use gatehouse::http::{self, json, no_content, parse_json, parse_uuid, query, route_not_found, segments, HttpResult};
use gatehouse::kms::Kms;
use gatehouse::oidc::Oidc;
use gatehouse::pages::web::{is_loopback_host, parse_cookies, set_cookie, SESSION_COOKIE};
use gatehouse::sso::flow::{self, Callback};
use gatehouse::sso::{self, IssuerPolicy};
use gatehouse::wiring::{Ctx, Wiring};
use lambda_http::http::header::{HeaderValue, HOST, LOCATION, SET_COOKIE};
use lambda_http::{http::Method, Body, Request, Response};
use serde_json::json as j;

const FLOW_COOKIE: &str = "gatehouse_sso";

/// Whether the request came to a loopback host (the local stack): then URLs are `http` and
/// cookies are not `Secure` (the pages' rule).
fn loopback(req: &Request) -> bool {
    is_loopback_host(host(req))
}

fn host(req: &Request) -> &str {
    req.headers().get(HOST).and_then(|h| h.to_str().ok()).unwrap_or_default()
}

/// This provider's callback URL, on the host the browser used.
fn callback_url(req: &Request, portal: &str, idp: &str) -> String {
    let host = Some(host(req)).filter(|h| !h.is_empty()).unwrap_or("localhost");
    let scheme = if loopback(req) { "http" } else { "https" };
    format!("{scheme}://{host}/api/portals/{portal}/sso/{idp}/callback")
}

/// A cookie of the request, as the pages read them.
fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_cookies)
        .find_map(|(k, v)| (k == name).then_some(v))
}

fn redirect(location: &str, cookies: &[String]) -> HttpResult {
    let mut resp = Response::builder().status(302).body(Body::Empty).expect("valid response");
    let headers = resp.headers_mut();
    headers.insert(LOCATION, HeaderValue::from_str(location).map_err(gatehouse::AppError::internal)?);
    for c in cookies {
        headers.append(SET_COOKIE, HeaderValue::from_str(c).map_err(gatehouse::AppError::internal)?);
    }
    Ok(resp)
}

async fn handle(ctx: &Ctx, kms: &Kms, oidc: &Oidc, req: Request) -> HttpResult {
    let path = segments(&req);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let now = ctx.now(&req);
    let store = &ctx.store;
    let policy = IssuerPolicy { allow_loopback_http: ctx.config.sso_allow_loopback_http };
    match (req.method().clone(), path.as_slice()) {
        (Method::GET, ["api", "portals", portal, "sso", idp, "start"]) => {
            let (p, i) = (parse_uuid(portal, "portal")?, parse_uuid(idp, "identity provider")?);
            let return_to = query(&req, "return_to");
            let started = flow::start(store, oidc, p, i, return_to.as_deref(), &callback_url(&req, portal, idp), now).await?;
            let path = format!("/api/portals/{p}/sso/");
            let max_age = gatehouse::domain::idp::FLOW_TTL_SECONDS;
            return redirect(&started.location, &[set_cookie(FLOW_COOKIE, &started.cookie, &path, Some(max_age), loopback(&req))]);
        }
        (Method::GET, ["api", "portals", portal, "sso", idp, "callback"]) => {
            let (p, i) = (parse_uuid(portal, "portal")?, parse_uuid(idp, "identity provider")?);
            let (state, code, error) = (query(&req, "state"), query(&req, "code"), query(&req, "error"));
            let flow_cookie = cookie(&req, FLOW_COOKIE);
            let cb = Callback { cookie: flow_cookie.as_deref(), state: state.as_deref(), code: code.as_deref(), error: error.as_deref() };
            let signed = flow::callback(store, kms, oidc, &ctx.config, p, i, cb, &callback_url(&req, portal, idp), now).await?;
            let max_age = (signed.session.expires_at - now).num_seconds().max(0);
            return redirect(
                &signed.return_to,
                &[
                    set_cookie(SESSION_COOKIE, &signed.session.token, "/", Some(max_age), loopback(&req)),
                    set_cookie(FLOW_COOKIE, "", &format!("/api/portals/{p}/sso/"), Some(0), loopback(&req)),
                ],
            );
        }
        _ => {}
    }
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
    let oidc = Oidc::new()?;
    http::serve(|req| handle(&ctx, &kms, &oidc, req)).await
}

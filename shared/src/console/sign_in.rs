//! Signing in (the admin token exchanged once for a console session), the check of that
//! session on every other request, and signing out.

use serde_json::json;
use uuid::Uuid;

use super::{session, Console, ConsoleStore, EXPIRED_FORM, HOME};
use crate::domain::Timestamp;
use crate::pages::web;
use crate::pages::PageResponse;

const BAD_TOKEN: &str = "This admin token does not work. Check it and try again: it may be mistyped, expired or revoked.";

pub(super) fn sign_in(mut c: Console<'_>, error: Option<(u16, &str)>, token_error: Option<&str>) -> PageResponse {
    c.pre_session();
    let status = error.map_or(200, |(s, _)| s);
    let mut errors = vec![];
    if let Some((_, m)) = error {
        errors.push(match token_error {
            Some(_) => json!({ "message": m, "field": "token" }),
            None => json!({ "message": m }),
        });
    }
    let mut ctx = c.context("Sign in to the console", errors);
    let mut field = json!({ "name": "token", "label": "Admin token", "type": "password", "autocomplete": "off", "required": true,
                            "hint": "An admin API token (gha_…), as minted by gatehouse-ops. It is exchanged for a one-hour console session." });
    if let Some(e) = token_error {
        field["error"] = e.into();
    }
    ctx.insert("form".into(), json!({ "action": "/console/sign-in", "fields": [field] }));
    c.html(status, "console/sign_in.html", ctx)
}

pub(super) async fn sign_in_post<S: ConsoleStore>(store: &S, c: Console<'_>, now: Timestamp) -> PageResponse {
    let form = c.req.form();
    if !c.pre_session_post_ok(&form) {
        return sign_in(c, Some((403, EXPIRED_FORM)), None);
    }
    let raw = form.get("token").trim().to_string();
    // The token is checked as the API checks a Bearer token (http::admin).
    let hash = crate::crypto::token_hash(&raw);
    let found = if raw.is_empty() { Ok(None) } else { store.find_admin_token(&hash).await };
    let token = match found {
        Ok(Some(t)) if crate::crypto::constant_time_eq(&t.token_hash, &hash) && !t.expired(now) => t,
        Ok(_) => return sign_in(c, Some((401, BAD_TOKEN)), Some(BAD_TOKEN)),
        Err(e) => return c.error_page(&e.into()),
    };
    let (cookie, record) = session::start(&token, now);
    if let Err(e) = store.put_console_session(&record).await {
        return c.error_page(&e.into());
    }
    let set = session::set_cookie(&cookie, c.loopback());
    let to = match token.scope.parse::<Uuid>() {
        Ok(p) => format!("/console/portals/{p}"),
        Err(_) => HOME.to_string(),
    };
    let mut r = c.redirect(&to, None);
    r.cookies.push(set);
    r
}

/// Checks the session cookie and the admin token behind it; otherwise the answer that sends
/// the browser to sign in (the cookie cleared).
pub(super) async fn signed_in<S: ConsoleStore>(store: &S, c: &mut Console<'_>, now: Timestamp) -> Result<(), PageResponse> {
    let cookie = c.req.cookie(session::COOKIE).map(str::to_string);
    let found = match cookie.as_deref().and_then(session::id_hash) {
        Some(h) => match store.get_console_session(&h).await {
            Ok(Some(s)) if session::live(&s, now) => match store.find_admin_token(&s.admin_token_hash).await {
                Ok(Some(t)) if !t.expired(now) => Some(t),
                Ok(_) => None,
                Err(e) => return Err(Console::new(c.req, c.key).error_page(&e.into())),
            },
            Ok(_) => None,
            Err(e) => return Err(Console::new(c.req, c.key).error_page(&e.into())),
        },
        None => None,
    };
    match found {
        Some(t) => {
            let cookie = cookie.unwrap_or_default();
            c.csrf = session::csrf(c.key, &cookie);
            c.cookie = Some(cookie);
            c.token = Some(t);
            Ok(())
        }
        None => {
            let loopback = c.loopback();
            let fresh = Console::new(c.req, c.key);
            let flash = cookie.is_some().then_some("session_ended");
            let mut r = fresh.redirect("/console/sign-in", flash);
            if cookie.is_some() {
                r.cookies.push(web::clear_cookie(session::COOKIE, session::BASE, loopback));
            }
            Err(r)
        }
    }
}

pub(super) async fn sign_out<S: ConsoleStore>(store: &S, mut c: Console<'_>, now: Timestamp) -> PageResponse {
    let form = c.req.form();
    let loopback = c.loopback();
    let hash = c.req.cookie(session::COOKIE).and_then(session::id_hash);
    if signed_in(store, &mut c, now).await.is_ok() {
        if !c.session_post_ok(&form) {
            return c.message(403, "This form expired", EXPIRED_FORM, ("Go to the portals", HOME));
        }
        if let Some(h) = &hash {
            if let Err(e) = store.delete_console_session(h).await {
                return c.error_page(&e.into());
            }
        }
    }
    let clear = web::clear_cookie(session::COOKIE, session::BASE, loopback);
    let mut r = Console::new(c.req, c.key).redirect("/console/sign-in", Some("signed_out"));
    r.cookies.push(clear);
    r
}

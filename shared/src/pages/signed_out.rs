//! The signed-out pages: sign in, register, forgot password, and the pages of mailed links
//! (verify the address, set a new password, accept an invite).

use serde_json::{json, Value};
use uuid::Uuid;

use super::forms::*;
use super::web::{self, Form};
use super::{Page, PageResponse, PageStore, Pre};
use crate::config::Config;
use crate::domain::Timestamp;
use crate::error::AppError;

/// The "Sign in with …" links of a portal's enabled providers, in their stored order: each to
/// the provider's start route, coming back to the account page. Only the id and display name
/// of a provider reach the page.
pub(super) fn sso_links(portal_id: Uuid, idps: &[crate::domain::IdentityProvider]) -> Vec<Value> {
    let back = format!("{}account", web::portal_base(portal_id));
    idps.iter()
        .filter(|i| i.enabled)
        .map(|i| {
            json!({
                "display_name": i.display_name,
                "href": format!("/api/portals/{portal_id}/sso/{}/start?return_to={back}", i.id),
            })
        })
        .collect()
}

pub(super) fn login_extra(page: &Page<'_>) -> Value {
    json!({
        "links": [{ "label": "Forgot your password?", "href": page.url("forgot-password") }],
        "footer_link": { "before": "New here?", "label": "Create an account", "href": page.url("register") },
    })
}

pub(super) fn login(mut page: Page<'_>, form: Option<&Form>, problem: Option<Problem>) -> PageResponse {
    page.pre_session();
    let status = problem.as_ref().map_or(200, Problem::status);
    let extra = login_extra(&page);
    let lead = format!("Welcome back to {}.", page.portal.name);
    page.form_page(status, "Sign in", Some(&lead), "login", "Sign in", &LOGIN, form, problem.as_ref(), extra, None)
}

pub(super) async fn login_post<S: PageStore>(store: &S, config: &Config, pre: Pre<'_>, now: Timestamp) -> PageResponse {
    let form = pre.req.form();
    if !pre.pre_session_post_ok(&form) {
        return pre.render(store, true, |page| login(page, Some(&form), Some(Problem::Expired))).await;
    }
    let body = crate::sessions::LoginBody { login: form.get("login").to_string(), password: form.get("password").to_string() };
    match crate::sessions::login(store, config, pre.portal_id, body, &pre.req.client_ip, now).await {
        Ok(done) => {
            let loopback = pre.loopback();
            let cookie = web::set_cookie(web::SESSION_COOKIE, &done.token, "/", Some(config.session_ttl_seconds), loopback);
            let to = if done.developer.must_change_password { "change-password" } else { "account" };
            pre.redirect(to, None).cookie(cookie)
        }
        Err(e) => pre.render(store, true, |page| login(page, Some(&form), Some(Problem::App(e)))).await,
    }
}

pub(super) fn register(mut page: Page<'_>, form: Option<&Form>, problem: Option<Problem>) -> PageResponse {
    page.pre_session();
    let status = problem.as_ref().map_or(200, Problem::status);
    let extra = json!({ "footer_link": { "before": "Already have an account?", "label": "Sign in", "href": page.url("login") } });
    let lead = format!("Get API keys for {}. An administrator reviews new accounts.", page.portal.name);
    page.form_page(
        status,
        "Create your developer account",
        Some(&lead),
        "register",
        "Create account",
        &REGISTER,
        form,
        problem.as_ref(),
        extra,
        None,
    )
}

pub(super) async fn register_post<S: PageStore>(store: &S, config: &Config, pre: Pre<'_>, now: Timestamp) -> PageResponse {
    let form = pre.req.form();
    if !pre.pre_session_post_ok(&form) {
        return pre.render(store, true, |page| register(page, Some(&form), Some(Problem::Expired))).await;
    }
    let body = crate::registration::RegisterBody {
        email: form.get("email").to_string(),
        password: form.get("password").to_string(),
        name: form.get("name").to_string(),
        username: form.optional("username"),
    };
    match crate::registration::register(store, config, pre.portal_id, body, &pre.req.client_ip, now).await {
        Ok(_) => pre.redirect("login", Some("registered")),
        Err(e) => pre.render(store, true, |page| register(page, Some(&form), Some(Problem::App(e)))).await,
    }
}

pub(super) fn forgot(mut page: Page<'_>, form: Option<&Form>, problem: Option<Problem>) -> PageResponse {
    page.pre_session();
    let status = problem.as_ref().map_or(200, Problem::status);
    let extra = json!({ "footer_link": { "before": "Remembered it?", "label": "Sign in", "href": page.url("login") } });
    let lead = "Enter the email address of your account. We send a link to set a new password.";
    page.form_page(
        status,
        "Forgot your password?",
        Some(lead),
        "forgot-password",
        "Send the link",
        &FORGOT,
        form,
        problem.as_ref(),
        extra,
        None,
    )
}

pub(super) async fn forgot_post<S: PageStore>(store: &S, pre: Pre<'_>, now: Timestamp) -> PageResponse {
    let form = pre.req.form();
    if !pre.pre_session_post_ok(&form) {
        return pre.render(store, false, |page| forgot(page, Some(&form), Some(Problem::Expired))).await;
    }
    let body = crate::recovery::ResetRequest { email: form.get("email").to_string() };
    match crate::recovery::request_reset(store, pre.portal_id, body, now).await {
        Ok(()) => pre.redirect("login", Some("reset_sent")),
        Err(e) => pre.render(store, false, |page| forgot(page, Some(&form), Some(Problem::App(e)))).await,
    }
}

/// A mailed link's first GET: the token moves into `gh_link` (scoped to the page) and the URL
/// loses it (303 to the same page).
pub(super) fn take_link_token(page: &Pre<'_>, name: &str) -> Option<PageResponse> {
    let token = page.req.query("token").filter(|t| !t.is_empty() && t.len() <= 512)?;
    let safe: String = token.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.~".contains(*c)).collect();
    let cookie = web::set_cookie(web::LINK_COOKIE, &safe, &page.url(name), Some(900), page.loopback());
    Some(PageResponse::see_other(page.url(name)).cookie(cookie))
}

pub(super) fn link_gone(page: Page<'_>, name: &str) -> PageResponse {
    let (heading, next) = if name == "invite" {
        ("This invitation link does not work", ("Go to sign in", "login"))
    } else {
        ("This link does not work", ("Ask for a new link", "forgot-password"))
    };
    let text = "It has expired, was already used, or a newer one replaced it. Links from our emails work once.";
    let clear = web::clear_cookie(web::LINK_COOKIE, &page.url(name), page.loopback());
    page.message(410, heading, text, Some(next)).cookie(clear)
}

/// The link's second GET (its token in `gh_link`): the use case and the portal (for the answer)
/// read concurrently.
pub(super) async fn verify_email<S: PageStore>(store: &S, pre: Pre<'_>, now: Timestamp) -> PageResponse {
    let token = pre.req.cookie(web::LINK_COOKIE).map(str::to_string);
    let verified = async {
        match token {
            Some(token) => Some(crate::recovery::verify_email(store, pre.portal_id, crate::recovery::VerifyEmail { token }, now).await),
            None => None,
        }
    };
    let (verified, portal) = tokio::join!(verified, store.get_portal(pre.portal_id));
    let page = match pre.with(portal, Ok(vec![])) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(verified) = verified else {
        return page.message(
            400,
            "Open the link from your email",
            "This page confirms your email address from the link we sent you. Open that link again.",
            Some(("Go to sign in", "login")),
        );
    };
    let clear = web::clear_cookie(web::LINK_COOKIE, &page.url("verify-email"), page.loopback());
    match verified {
        Ok(()) => page
            .message(
                200,
                "Your email address is confirmed",
                "Thank you. You can sign in once your account is approved.",
                Some(("Go to sign in", "login")),
            )
            .cookie(clear),
        Err(AppError::Gone(_) | AppError::Invalid(_) | AppError::NotFound { .. }) => link_gone(page, "verify-email"),
        Err(e) => error_page(page, &e),
    }
}

pub(super) fn error_page(page: Page<'_>, e: &AppError) -> PageResponse {
    let status = crate::http::status_of(e);
    if status >= 500 {
        tracing::error!(error = %crate::error::error_chain(e), "a page failed");
        return page.message(
            status,
            "Something went wrong",
            "It has been logged. Try again in a moment.",
            Some(("Go to sign in", "login")),
        );
    }
    page.message(status, "This did not work", &sentence(&e.to_string()), Some(("Go to sign in", "login")))
}

/// The GET of a page reached from a mailed link whose token its POST spends.
pub(super) fn link_page(page: Page<'_>, name: &str) -> PageResponse {
    if page.req.cookie(web::LINK_COOKIE).is_none() {
        return page.message(
            400,
            "Open the link from your email",
            "This page works from the link we emailed you. Open that link again.",
            Some(("Go to sign in", "login")),
        );
    }
    link_form(page, name, None, None)
}

pub(super) fn link_form(mut page: Page<'_>, name: &str, form: Option<&Form>, problem: Option<Problem>) -> PageResponse {
    page.pre_session();
    let status = problem.as_ref().map_or(200, Problem::status);
    if name == "invite" {
        let lead = format!("You are invited to {}. Choose how you appear and a password to finish your account.", page.portal.name);
        page.form_page(
            status,
            "Accept your invitation",
            Some(&lead),
            "invite",
            "Create account",
            &INVITE,
            form,
            problem.as_ref(),
            json!({}),
            None,
        )
    } else {
        page.form_page(
            status,
            "Set a new password",
            None,
            "reset-password",
            "Set password",
            &RESET,
            form,
            problem.as_ref(),
            json!({}),
            None,
        )
    }
}

pub(super) fn link_spent(e: &AppError) -> bool {
    match e {
        AppError::Gone(_) | AppError::NotFound { .. } => true,
        AppError::Invalid(errs) => errs.iter().any(|f| f.field == "token"),
        _ => false,
    }
}

pub(super) async fn reset_post<S: PageStore>(store: &S, pre: Pre<'_>, now: Timestamp) -> PageResponse {
    let form = pre.req.form();
    if !pre.pre_session_post_ok(&form) {
        return pre.render(store, false, |page| link_form(page, "reset-password", Some(&form), Some(Problem::Expired))).await;
    }
    let Some(token) = pre.req.cookie(web::LINK_COOKIE).map(str::to_string) else {
        return pre.render(store, false, |page| link_gone(page, "reset-password")).await;
    };
    let body = crate::recovery::ResetConfirm { token, new_password: form.get("new_password").to_string() };
    match crate::recovery::confirm_reset(store, pre.portal_id, body, now).await {
        Ok(()) => {
            let clear = web::clear_cookie(web::LINK_COOKIE, &pre.url("reset-password"), pre.loopback());
            pre.redirect("login", Some("password_reset")).cookie(clear)
        }
        Err(e) if link_spent(&e) => pre.render(store, false, |page| link_gone(page, "reset-password")).await,
        Err(e) => pre.render(store, false, |page| link_form(page, "reset-password", Some(&form), Some(Problem::App(e)))).await,
    }
}

pub(super) async fn invite_post<S: PageStore>(store: &S, pre: Pre<'_>, now: Timestamp) -> PageResponse {
    let form = pre.req.form();
    if !pre.pre_session_post_ok(&form) {
        return pre.render(store, false, |page| link_form(page, "invite", Some(&form), Some(Problem::Expired))).await;
    }
    let Some(token) = pre.req.cookie(web::LINK_COOKIE).map(str::to_string) else {
        return pre.render(store, false, |page| link_gone(page, "invite")).await;
    };
    let body = crate::invites::AcceptInvite {
        token,
        password: form.get("password").to_string(),
        name: form.get("name").to_string(),
        username: form.optional("username"),
    };
    match crate::invites::accept_invite(store, pre.portal_id, body, now).await {
        Ok(_) => {
            let clear = web::clear_cookie(web::LINK_COOKIE, &pre.url("invite"), pre.loopback());
            pre.redirect("login", Some("invite_accepted")).cookie(clear)
        }
        Err(e) if link_spent(&e) => pre.render(store, false, |page| link_gone(page, "invite")).await,
        Err(e) => pre.render(store, false, |page| link_form(page, "invite", Some(&form), Some(Problem::App(e)))).await,
    }
}

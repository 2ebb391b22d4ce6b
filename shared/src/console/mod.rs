//! The admin console (issue 16) at `/console/`: sign-in with an admin token exchanged once for a
//! short-lived session (`session`), the portal picker, per portal the tabs Requested access,
//! Approved, Revoked, Rejected (exact counts), Invites, Teams, Audit log, Webhooks and
//! Settings, a developer's detail with its history, and the Invite developers dialog.
//!
//! Server-rendered from `shared/templates/pages/console/` with the developer pages' design
//! system and rules (`shared/templates/pages/README.md`: CSP, CSRF on every form,
//! POST-redirect-GET with fixed flash keys, roles and names), calling the same use cases as the
//! JSON admin API with the admin token the session stands for (so a portal-scoped token sees
//! only its portal: another portal is the API's 404). Never HTTP.

mod audit;
mod developer;
mod developers;
mod invites;
pub mod lambda;
mod portals;
mod results;
pub mod session;
mod settings;
mod sign_in;
mod teams;
mod templates;
pub mod views;
mod webhooks;

use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::config::Config;
use crate::domain::{Portal, Timestamp};
use crate::error::AppError;
use crate::pages::web::{self, Form, PageRequest};
use crate::pages::PageResponse;
use crate::replay::ReplayQueue;
use crate::store::*;
use views::Tab;

/// Every port the console reaches (the union of the admin use cases it wraps).
pub trait ConsoleStore:
    AdminTokenStore
    + ConsoleSessionStore
    + PortalStore
    + DeveloperStore
    + ApprovalStore
    + InviteStore
    + TeamStore
    + AppStore
    + AuditLog
    + WebhookStore
    + DeliveryLog
    + EventLog
    + ReplayStore
{
}
impl<T> ConsoleStore for T where
    T: AdminTokenStore
        + ConsoleSessionStore
        + PortalStore
        + DeveloperStore
        + ApprovalStore
        + InviteStore
        + TeamStore
        + AppStore
        + AuditLog
        + WebhookStore
        + DeliveryLog
        + EventLog
        + ReplayStore
{
}

/// Rows per page (README.md: a 20-row list stays under the page budget).
pub const PAGE_SIZE: usize = 20;
/// At most this many developers in one bulk request.
pub const MAX_BULK: usize = 50;

/// The console's first page (the portal picker). `/console` itself redirects here: the
/// session cookie's `Path=/console/` does not cover `/console`.
pub const HOME: &str = "/console/portals";

const EXPIRED_FORM: &str = "This form expired. Check the fields and send it again.";

/// The one-time messages a console redirect may carry: `(key, kind, text)`. Only keys travel.
pub const FLASHES: [(&str, &str, &str); 21] = [
    ("template_saved", "success", "The email template was saved."),
    ("template_reset", "success", "The email is back to its default template."),
    ("signed_out", "success", "You are signed out of the console."),
    ("session_ended", "info", "Your console session ended. Sign in again with an admin token."),
    ("accepted", "success", "The developer was approved."),
    ("rejected", "success", "The developer was rejected."),
    ("revoked", "success", "The developer's access was revoked."),
    ("reapproved", "success", "The developer was approved again."),
    ("approved", "success", "The developer was approved."),
    ("deleted", "success", "The developer was deleted."),
    ("settings_saved", "success", "Settings saved."),
    ("team_created", "success", "Team created."),
    ("member_added", "success", "The developer was added to the team."),
    ("member_removed", "success", "The developer was removed from the team."),
    ("invite_resent", "success", "The invite was sent again with a new link."),
    ("invite_withdrawn", "success", "The invite was withdrawn; its link no longer works."),
    ("webhook_test_sent", "success", "A webhook.test event was sent to the endpoint. It shows in the deliveries below."),
    ("webhook_disabled", "success", "The endpoint was disabled; it receives no events until enabled again."),
    ("webhook_enabled", "success", "The endpoint was enabled."),
    ("webhook_deleted", "success", "The webhook endpoint was deleted."),
    ("replay_started", "success", "The replay started: the window's events are delivered again, in order."),
];

/// A use case's sentence as a page sentence: capitalised, with a full stop.
pub fn sentence(s: &str) -> String {
    let mut c = s.chars();
    let mut out: String = c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default();
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// The message of a decision's error: a conflict means another admin (or request) decided
/// first (the use case's optimistic concurrency), never a silent overwrite.
pub fn decision_message(e: &AppError) -> String {
    match e {
        AppError::Conflict(m) => {
            format!("Another admin got there first: {}. The page now shows the current state.", m.trim_end_matches('.'))
        }
        e => error_message(e),
    }
}

/// The message of a use case's error on a console page.
pub fn error_message(e: &AppError) -> String {
    match e {
        AppError::Internal(_) => "Something went wrong on our side. It has been logged; try again in a moment.".into(),
        AppError::Unavailable(_) => "The service is busy. Try again in a moment.".into(),
        e => sentence(&e.to_string()),
    }
}

/// One request's view of the console: the signed-in token (if any), the CSRF token of its
/// forms and the cookies to set on the way out.
struct Console<'a> {
    req: &'a PageRequest,
    key: &'a [u8],
    csrf: String,
    set: Vec<String>,
    token: Option<AdminToken>,
    /// The session cookie's value, once checked.
    cookie: Option<String>,
    /// The deployment's rate limits (the Settings tab's hints).
    rate_limits: crate::throttle::RateLimits,
}

impl<'a> Console<'a> {
    fn new(req: &'a PageRequest, key: &'a [u8]) -> Self {
        Self { req, key, csrf: String::new(), set: vec![], token: None, cookie: None, rate_limits: Default::default() }
    }

    fn loopback(&self) -> bool {
        self.req.loopback()
    }

    fn token(&self) -> &AdminToken {
        self.token.as_ref().expect("a signed-in handler")
    }

    /// Signed out: the CSRF token is the HMAC of the `gh_csrf` cookie (scoped to the console).
    fn pre_session(&mut self) {
        let cookie = match self.req.cookie(web::CSRF_COOKIE) {
            Some(c) => c.to_string(),
            None => {
                let c = web::new_csrf_cookie();
                self.set.push(web::set_cookie(web::CSRF_COOKIE, &c, session::BASE, None, self.loopback()));
                c
            }
        };
        self.csrf = web::pre_session_csrf(self.key, &cookie);
    }

    fn pre_session_post_ok(&self, form: &Form) -> bool {
        let Some(cookie) = self.req.cookie(web::CSRF_COOKIE) else { return false };
        !web::cross_site(self.req) && web::csrf_ok(&web::pre_session_csrf(self.key, cookie), form.get("csrf_token"))
    }

    fn session_post_ok(&self, form: &Form) -> bool {
        let Some(cookie) = &self.cookie else { return false };
        !web::cross_site(self.req) && web::csrf_ok(&session::csrf(self.key, cookie), form.get("csrf_token"))
    }

    fn redirect(mut self, location: &str, flash: Option<&str>) -> PageResponse {
        if let Some(f) = flash {
            let c = web::set_cookie(web::FLASH_COOKIE, f, session::BASE, Some(60), self.loopback());
            self.set.push(c);
        }
        PageResponse {
            status: 303,
            headers: vec![("Location", location.to_string()), ("Cache-Control", "no-store".into())],
            cookies: self.set,
            body: vec![],
        }
    }

    /// The context every console page starts from (base.html's keys), the flash read and cleared.
    fn context(&mut self, title: &str, errors: Vec<Value>) -> Map<String, Value> {
        let mut ctx = Map::new();
        ctx.insert("title".into(), title.into());
        ctx.insert("site".into(), json!({ "name": "Gatehouse", "home_url": HOME, "kind": "console" }));
        ctx.insert("csrf_token".into(), self.csrf.clone().into());
        if let Some(t) = &self.token {
            ctx.insert("user".into(), json!({ "name": session::who(t), "sign_out_action": "/console/sign-out" }));
            ctx.insert("nav".into(), json!([{ "label": "Portals", "href": HOME }]));
        }
        if let Some(key) = self.req.cookie(web::FLASH_COOKIE) {
            if let Some((_, kind, text)) = FLASHES.iter().find(|(k, _, _)| *k == key) {
                ctx.insert("notices".into(), json!([{ "kind": kind, "text": text }]));
            }
            self.set.push(web::clear_cookie(web::FLASH_COOKIE, session::BASE, self.loopback()));
        }
        if !errors.is_empty() {
            ctx.insert("errors".into(), Value::Array(errors));
        }
        ctx
    }

    fn html(self, status: u16, template: &str, ctx: Map<String, Value>) -> PageResponse {
        let headers = web::page_headers(None, self.loopback());
        match crate::pages::render::render(template, &minijinja::Value::from_serialize(Value::Object(ctx))) {
            Ok(body) => PageResponse { status, headers, cookies: self.set, body: body.into_bytes() },
            Err(e) => {
                tracing::error!(error = %e, template, "a console page failed to render");
                PageResponse {
                    status: 500,
                    headers,
                    cookies: self.set,
                    body: b"<!doctype html><title>Error</title><p>Something went wrong.</p>".to_vec(),
                }
            }
        }
    }

    fn message(mut self, status: u16, heading: &str, text: &str, next: (&str, &str)) -> PageResponse {
        let mut ctx = self.context(heading, vec![]);
        ctx.insert("heading".into(), heading.into());
        ctx.insert("text".into(), text.into());
        ctx.insert("next".into(), json!({ "label": next.0, "href": next.1 }));
        self.html(status, "console/message.html", ctx)
    }

    fn error_page(self, e: &AppError) -> PageResponse {
        let status = crate::http::status_of(e);
        if status >= 500 {
            tracing::error!(error = %crate::error::error_chain(e), "a console page failed");
            return self.message(status, "Something went wrong", "It has been logged. Try again in a moment.", ("Go to the portals", HOME));
        }
        if status == 404 {
            return self.message(404, "Not found", "There is nothing here that this admin token may see.", ("Go to the portals", HOME));
        }
        self.message(status, "This did not work", &error_message(e), ("Go to the portals", HOME))
    }
}

/// The button of a table row that a form carries: row buttons post `<name>=<id>` (one hidden
/// form per table), so the first of `buttons` whose name is present picks the action, with its
/// id (`None` when the value is not a UUID).
fn row_button<A: Copy>(form: &Form, buttons: &[(&str, A)]) -> Option<(A, Option<Uuid>)> {
    buttons.iter().find_map(|(name, a)| form.optional(name).map(|v| (*a, v.parse().ok())))
}

/// How a tab's POST ends: back to the tab with the flash of what was done (POST-redirect-GET),
/// or the tab again with the use case's error as a sentence (`message`) and its status; a
/// failure on our side is the error page.
async fn tab_outcome<S: ConsoleStore>(
    store: &S,
    c: Console<'_>,
    portal: &Portal,
    tab: Tab,
    outcome: Result<&'static str, AppError>,
    message: fn(&AppError) -> String,
    now: Timestamp,
) -> PageResponse {
    match outcome {
        Ok(flash) => c.redirect(&views::tab_url(&portal_base(portal), tab), Some(flash)),
        Err(e) => {
            let status = crate::http::status_of(&e);
            if status >= 500 {
                return c.error_page(&e);
            }
            let view = View { status: Some(status), errors: vec![json!({ "message": message(&e) })], tab: Some(tab), ..Default::default() };
            portal_page(store, c, portal, view, now).await
        }
    }
}

fn not_found(c: Console<'_>) -> PageResponse {
    c.message(404, "Page not found", "There is no console page at this address.", ("Go to the portals", HOME))
}

/// Answers one request to `/console/...`; `replays` is the delivery queue a webhook replay's
/// first step goes on (absent: a replay is the API's 503).
pub async fn handle<S: ConsoleStore, Q: ReplayQueue>(
    store: &S,
    replays: Option<&Q>,
    config: &Config,
    req: &PageRequest,
    now: Timestamp,
) -> PageResponse {
    let segments: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    let mut c = Console::new(req, &config.token_secret);
    c.rate_limits = config.rate_limits;
    let rest = match segments.as_slice() {
        ["console", rest @ ..] => rest.to_vec(),
        _ => return not_found(c),
    };
    let post = req.method == "POST";
    match (post, rest.as_slice()) {
        (false, ["sign-in"]) => return sign_in::sign_in(c, None, None),
        (true, ["sign-in"]) => return sign_in::sign_in_post(store, c, now).await,
        (true, ["sign-out"]) => return sign_in::sign_out(store, c, now).await,
        _ => {}
    }
    if let Err(r) = sign_in::signed_in(store, &mut c, now).await {
        return r;
    }
    let form = req.form();
    if post && !c.session_post_ok(&form) {
        return c.message(403, "This form expired", EXPIRED_FORM, ("Go to the portals", HOME));
    }
    match (post, rest.as_slice()) {
        (false, []) => c.redirect(HOME, None),
        (false, ["portals"]) => portals::portals(store, c).await,
        (false, ["open"]) => portals::open_portal(c),
        (_, ["portals", p, rest @ ..]) => {
            let Ok(portal_id) = p.parse::<Uuid>() else { return not_found(c) };
            let portal = match crate::access::portal_for(store, c.token(), portal_id).await {
                Ok(p) => p,
                Err(e) => return c.error_page(&e),
            };
            match (post, rest) {
                (false, []) => portal_page(store, c, &portal, View::default(), now).await,
                (true, ["developers", "decide"]) => developers::decide(store, c, &portal, &form, now).await,
                (false, ["developers", "confirm"]) => developers::confirm(store, c, &portal).await,
                (false, ["developers", d]) => match d.parse::<Uuid>() {
                    Ok(d) => developer::developer_page(store, c, &portal, d).await,
                    Err(_) => not_found(c),
                },
                (true, ["developers", d, "teams"]) => match d.parse::<Uuid>() {
                    Ok(d) => developer::membership(store, c, &portal, d, &form, now).await,
                    Err(_) => not_found(c),
                },
                (false, ["results", r]) => match r.parse::<Uuid>() {
                    Ok(r) => results::result_page(store, c, &portal, r, now).await,
                    Err(_) => not_found(c),
                },
                (false, ["invite"]) => invites::invite_page(c, &portal, None, None),
                (true, ["invite"]) => invites::invite_post(store, config, c, &portal, &form, now).await,
                (true, ["invites"]) => invites::invite_action(store, config, c, &portal, &form, now).await,
                (true, ["settings"]) => settings::settings_post(store, config, c, &portal, &form, now).await,
                (true, ["teams"]) => teams::team_post(store, c, &portal, &form, now).await,
                (false, ["templates"]) => templates::templates_page(c, &portal),
                (false, ["templates", m]) => templates::template_page(c, &portal, m, None, None),
                (true, ["templates", m]) => templates::template_post(store, config, c, &portal, m, &form, now).await,
                (post, ["templates", m, "preview"]) => templates::preview(c, &portal, m, post.then_some(&form)),
                (true, ["webhooks"]) => webhooks::create_post(store, config, c, &portal, &form, now).await,
                (post, ["webhooks", w, rest @ ..]) => match (post, w.parse::<Uuid>(), rest) {
                    (false, Ok(w), []) => webhooks::webhook_page(store, c, &portal, w).await,
                    (false, Ok(w), ["delete"]) => webhooks::confirm_delete(store, c, &portal, w).await,
                    (true, Ok(w), []) => webhooks::webhook_post(store, replays, config, c, &portal, w, &form, now).await,
                    _ => not_found(c),
                },
                _ => not_found(c),
            }
        }
        _ => not_found(c),
    }
}

fn portal_base(p: &Portal) -> String {
    format!("/console/portals/{}", p.id)
}

/// What a portal page shows beside its tab: an error, results of a POST, a form's values.
#[derive(Default)]
struct View {
    status: Option<u16>,
    errors: Vec<Value>,
    /// The tab to show when the request does not say (a re-rendered POST).
    tab: Option<Tab>,
    /// Per-address outcomes of an invite, or the one-time-password developer created.
    invite_result: Option<Value>,
    /// Field errors of the settings form (`name` → sentence) and its values as posted.
    field_errors: Vec<(String, String)>,
    posted: Option<Form>,
}

async fn portal_page<S: ConsoleStore>(store: &S, mut c: Console<'_>, portal: &Portal, view: View, now: Timestamp) -> PageResponse {
    let tab = view.tab.or_else(|| c.req.query("tab").and_then(Tab::parse)).unwrap_or(Tab::Requested);
    let token = c.token().clone();
    let counts = match store.count_developers(portal.id).await {
        Ok(c) => c.unwrap_or_default(),
        Err(e) => return c.error_page(&e.into()),
    };
    let base = portal_base(portal);
    let status = view.status.unwrap_or(200);
    let mut ctx = c.context(&format!("{} · {}", tab.label(), portal.name), view.errors.clone());
    ctx.insert("portal_name".into(), portal.name.clone().into());
    ctx.insert("portal_id".into(), portal.id.to_string().into());
    ctx.insert("tabs".into(), views::tabs(&base, tab, &counts));
    ctx.insert("current_tab".into(), format!("tab-{}", tab.key()).into());
    ctx.insert("section".into(), tab.section().into());
    ctx.insert("invite_url".into(), format!("{base}/invite").into());
    ctx.insert("tab_key".into(), tab.key().into());
    let section: Result<Value, AppError> = match tab.state() {
        Some(state) => developers::developers_section(store, &token, portal, &base, tab, state, &c).await,
        None => match tab {
            Tab::Invites => invites::invites_section(store, &token, portal, &base, &c, now).await.map(|mut v| {
                if let Some(r) = &view.invite_result {
                    v["result"] = r.clone();
                }
                v["dialog"] = views::invites::invite_forms(&base, None, &[]);
                v
            }),
            Tab::Teams => teams::teams_section(store, &token, portal, &base, &c).await,
            Tab::Audit => audit::audit_section(store, &token, portal, &c).await,
            Tab::Webhooks => webhooks::webhooks_section(store, &token, portal, &base, view.posted.as_ref(), &view.field_errors).await,
            _ => Ok(views::settings::settings_section(&base, portal, &c.rate_limits, view.posted.as_ref(), &view.field_errors)),
        },
    };
    match section {
        Ok(s) => ctx.insert("s".into(), s),
        Err(e) => return c.error_page(&e),
    };
    c.html(status, "console/portal.html", ctx)
}

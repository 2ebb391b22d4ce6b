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

pub mod lambda;
pub mod session;
pub mod views;

use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::audit::EventParams;
use crate::config::Config;
use crate::domain::{DeveloperState, Portal, Timestamp};
use crate::error::AppError;
use crate::lifecycle::{DeveloperPatch, ListParams};
use crate::pages::web::{self, Form, PageRequest};
use crate::pages::PageResponse;
use crate::store::*;
use views::{Action, Tab};

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
const BAD_TOKEN: &str = "This admin token does not work. Check it and try again: it may be mistyped, expired or revoked.";

/// The one-time messages a console redirect may carry: `(key, kind, text)`. Only keys travel.
pub const FLASHES: [(&str, &str, &str); 14] = [
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
}

impl<'a> Console<'a> {
    fn new(req: &'a PageRequest, key: &'a [u8]) -> Self {
        Self { req, key, csrf: String::new(), set: vec![], token: None, cookie: None }
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

fn not_found(c: Console<'_>) -> PageResponse {
    c.message(404, "Page not found", "There is no console page at this address.", ("Go to the portals", HOME))
}

/// Answers one request to `/console/...`.
pub async fn handle<S: ConsoleStore>(store: &S, config: &Config, req: &PageRequest, now: Timestamp) -> PageResponse {
    let segments: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    let mut c = Console::new(req, &config.token_secret);
    let rest = match segments.as_slice() {
        ["console", rest @ ..] => rest.to_vec(),
        _ => return not_found(c),
    };
    let post = req.method == "POST";
    match (post, rest.as_slice()) {
        (false, ["sign-in"]) => return sign_in(c, None, None),
        (true, ["sign-in"]) => return sign_in_post(store, c, now).await,
        (true, ["sign-out"]) => return sign_out(store, c, now).await,
        _ => {}
    }
    if let Err(r) = signed_in(store, &mut c, now).await {
        return r;
    }
    let form = req.form();
    if post && !c.session_post_ok(&form) {
        return c.message(403, "This form expired", EXPIRED_FORM, ("Go to the portals", HOME));
    }
    match (post, rest.as_slice()) {
        (false, []) => c.redirect(HOME, None),
        (false, ["portals"]) => portals(store, c).await,
        (false, ["open"]) => open_portal(c),
        (_, ["portals", p, rest @ ..]) => {
            let Ok(portal_id) = p.parse::<Uuid>() else { return not_found(c) };
            let portal = match crate::access::portal_for(store, c.token(), portal_id).await {
                Ok(p) => p,
                Err(e) => return c.error_page(&e),
            };
            match (post, rest) {
                (false, []) => portal_page(store, c, &portal, View::default(), now).await,
                (true, ["developers", "decide"]) => decide(store, c, &portal, &form, now).await,
                (false, ["developers", "confirm"]) => confirm(store, c, &portal).await,
                (false, ["developers", d]) => match d.parse::<Uuid>() {
                    Ok(d) => developer_page(store, c, &portal, d).await,
                    Err(_) => not_found(c),
                },
                (true, ["developers", d, "teams"]) => match d.parse::<Uuid>() {
                    Ok(d) => membership(store, c, &portal, d, &form, now).await,
                    Err(_) => not_found(c),
                },
                (false, ["invite"]) => invite_page(c, &portal, None, None),
                (true, ["invite"]) => invite_post(store, config, c, &portal, &form, now).await,
                (true, ["invites"]) => invite_action(store, config, c, &portal, &form, now).await,
                (true, ["settings"]) => settings_post(store, config, c, &portal, &form, now).await,
                (true, ["teams"]) => team_post(store, c, &portal, &form, now).await,
                _ => not_found(c),
            }
        }
        _ => not_found(c),
    }
}

// ------------------------------------------------------------------------------ sign-in

fn sign_in(mut c: Console<'_>, error: Option<(u16, &str)>, token_error: Option<&str>) -> PageResponse {
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

async fn sign_in_post<S: ConsoleStore>(store: &S, c: Console<'_>, now: Timestamp) -> PageResponse {
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
async fn signed_in<S: ConsoleStore>(store: &S, c: &mut Console<'_>, now: Timestamp) -> Result<(), PageResponse> {
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

async fn sign_out<S: ConsoleStore>(store: &S, mut c: Console<'_>, now: Timestamp) -> PageResponse {
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

// ------------------------------------------------------------------------------ portals

async fn portals<S: ConsoleStore>(store: &S, mut c: Console<'_>) -> PageResponse {
    let scoped = c.token().scope.parse::<Uuid>().ok();
    let mut ctx = c.context("Portals", vec![]);
    let mut list = vec![];
    if let Some(p) = scoped {
        match store.get_portal(p).await {
            Ok(Some(portal)) => {
                list.push(json!({ "name": portal.name, "href": format!("/console/portals/{}", portal.id), "id": portal.id }))
            }
            Ok(None) => {}
            Err(e) => return c.error_page(&e.into()),
        }
    }
    ctx.insert("portals".into(), Value::Array(list));
    ctx.insert("scoped".into(), scoped.is_some().into());
    ctx.insert(
        "open".into(),
        json!({ "action": "/console/open", "field": { "name": "portal_id", "label": "Portal ID", "autocomplete": "off", "required": true,
                 "hint": "The portal's UUID, as POST /api/portals answered it." } }),
    );
    c.html(200, "console/portals.html", ctx)
}

fn open_portal(c: Console<'_>) -> PageResponse {
    match c.req.query("portal_id").map(str::trim).unwrap_or_default().parse::<Uuid>() {
        Ok(p) => c.redirect(&format!("/console/portals/{p}"), None),
        Err(_) => c.message(404, "Not found", "That is not a portal ID. A portal ID is a UUID.", ("Go to the portals", HOME)),
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
        Some(state) => developers_section(store, &token, portal, &base, tab, state, &c).await,
        None => match tab {
            Tab::Invites => invites_section(store, &token, portal, &base, &c, now).await.map(|mut v| {
                if let Some(r) = &view.invite_result {
                    v["result"] = r.clone();
                }
                v["dialog"] = views::invite_forms(&base, None, &[]);
                v
            }),
            Tab::Teams => teams_section(store, &token, portal, &base, &c).await,
            Tab::Audit => audit_section(store, &token, portal, &c).await,
            Tab::Webhooks => webhooks_section(store, &token, portal).await,
            _ => Ok(views::settings_section(&base, portal, view.posted.as_ref(), &view.field_errors)),
        },
    };
    match section {
        Ok(s) => ctx.insert("s".into(), s),
        Err(e) => return c.error_page(&e),
    };
    c.html(status, "console/portal.html", ctx)
}

#[allow(clippy::too_many_arguments)]
async fn developers_section<S: ConsoleStore>(
    store: &S,
    token: &AdminToken,
    portal: &Portal,
    base: &str,
    tab: Tab,
    state: DeveloperState,
    c: &Console<'_>,
) -> Result<Value, AppError> {
    let q = c.req.query("q").map(str::trim).filter(|q| !q.is_empty()).map(str::to_string);
    let cursor = c.req.query("cursor").map(str::to_string).filter(|c| !c.is_empty());
    let params =
        ListParams { state: Some(state.as_str().into()), q: q.clone(), limit: Some(PAGE_SIZE.to_string()), cursor: cursor.clone() };
    let page = crate::lifecycle::list_developers(store, token, portal.id, params).await?;
    Ok(views::developers(base, tab, &page, q.as_deref(), cursor.is_some(), &portal.settings))
}

async fn invites_section<S: ConsoleStore>(
    store: &S,
    token: &AdminToken,
    portal: &Portal,
    base: &str,
    c: &Console<'_>,
    now: Timestamp,
) -> Result<Value, AppError> {
    let cursor = c.req.query("cursor").map(str::to_string);
    let page =
        crate::invites::list_invites(store, token, portal.id, Some("pending".into()), Some(PAGE_SIZE.to_string()), cursor, now).await?;
    Ok(views::invites(base, &page))
}

async fn teams_section<S: ConsoleStore>(
    store: &S,
    token: &AdminToken,
    portal: &Portal,
    base: &str,
    c: &Console<'_>,
) -> Result<Value, AppError> {
    let cursor = c.req.query("cursor").map(str::to_string);
    let page = crate::teams::list_teams(store, token, portal.id, Some(PAGE_SIZE.to_string()), cursor).await?;
    Ok(views::teams(base, &page))
}

async fn audit_section<S: ConsoleStore>(store: &S, token: &AdminToken, portal: &Portal, c: &Console<'_>) -> Result<Value, AppError> {
    let params =
        EventParams { limit: Some(PAGE_SIZE.to_string()), cursor: c.req.query("cursor").map(str::to_string), ..Default::default() };
    let page = crate::audit::list_events(store, token, portal.id, None, &params).await?;
    Ok(views::audit(&portal_base(portal), &page))
}

async fn webhooks_section<S: ConsoleStore>(store: &S, token: &AdminToken, portal: &Portal) -> Result<Value, AppError> {
    let hooks = crate::webhooks::list(store, token, portal.id).await?;
    Ok(views::webhooks(&hooks))
}

// ------------------------------------------------------------------------------ decisions

/// One decision on one developer, through the use case the JSON admin API calls for it.
async fn act<S: ConsoleStore>(
    store: &S,
    token: &AdminToken,
    portal: &Portal,
    action: Action,
    id: Uuid,
    now: Timestamp,
) -> Result<(), AppError> {
    let status = |s: &str| DeveloperPatch { status: Some(s.into()), state: None, name: None };
    match action {
        Action::Accept | Action::Reject => {
            let dev = crate::access::developer_for(store, token, portal.id, id).await?;
            let Some(approval) = dev.approval_id.filter(|_| dev.state == DeveloperState::Pending) else {
                return Err(AppError::Conflict(format!("this developer is already {}", dev.state.as_str())));
            };
            crate::approvals::decide_approval(store, token, approval, action == Action::Accept, now).await.map(|_| ())
        }
        Action::Revoke => crate::lifecycle::patch_developer(store, token, portal.id, id, status("revoked"), now).await.map(|_| ()),
        Action::Reapprove | Action::Approve => {
            crate::lifecycle::patch_developer(store, token, portal.id, id, status("approved"), now).await.map(|_| ())
        }
        Action::Delete => crate::lifecycle::delete_developer(store, token, portal.id, id, now).await,
    }
}

async fn decide<S: ConsoleStore>(store: &S, c: Console<'_>, portal: &Portal, form: &Form, now: Timestamp) -> PageResponse {
    let token = c.token().clone();
    let tab = Tab::parse(form.get("tab")).unwrap_or(Tab::Requested);
    let back = views::tab_url(&portal_base(portal), tab);
    // A row's button: `<action>=<developer id>`.
    if let Some((action, id)) = Action::ALL.iter().find_map(|a| form.optional(a.key()).map(|v| (*a, v))) {
        let Ok(id) = id.parse::<Uuid>() else { return not_found(c) };
        return match act(store, &token, portal, action, id, now).await {
            Ok(()) => c.redirect(&back, Some(action.flash())),
            Err(e) => {
                let status = crate::http::status_of(&e);
                if status >= 500 {
                    return c.error_page(&e);
                }
                let view = View {
                    status: Some(status),
                    errors: vec![json!({ "message": decision_message(&e) })],
                    tab: Some(tab),
                    ..Default::default()
                };
                portal_page(store, c, portal, view, now).await
            }
        };
    }
    // The bulk form: `action` and every selected `developer`, one outcome each.
    let Some(action) = Action::parse(form.get("action")) else { return not_found(c) };
    let ids: Vec<Uuid> = form.all("developer").iter().filter_map(|d| d.parse().ok()).take(MAX_BULK).collect();
    if ids.is_empty() {
        let view = View {
            status: Some(400),
            errors: vec![json!({ "message": "Select at least one developer first." })],
            tab: Some(tab),
            ..Default::default()
        };
        return portal_page(store, c, portal, view, now).await;
    }
    let outcomes = futures::future::join_all(ids.iter().map(|id| {
        let token = &token;
        async move {
            let who = crate::access::developer_for(store, token, portal.id, *id).await.map(|d| views::display_name(&d)).ok();
            (who, act(store, token, portal, action, *id, now).await)
        }
    }))
    .await;
    bulk_result(c, portal, tab, action, outcomes)
}

fn bulk_result(
    mut c: Console<'_>,
    portal: &Portal,
    tab: Tab,
    action: Action,
    outcomes: Vec<(Option<String>, Result<(), AppError>)>,
) -> PageResponse {
    let done = outcomes.iter().filter(|(_, r)| r.is_ok()).count();
    let rows: Vec<Value> = outcomes
        .iter()
        .enumerate()
        .map(|(i, (who, r))| {
            let outcome = match r {
                Ok(()) => action.done_label().to_string(),
                Err(e) => format!("Not changed: {}", decision_message(e)),
            };
            json!({ "id": i, "cells": { "developer": who.clone().unwrap_or_else(|| "A developer no longer there".into()), "outcome": outcome } })
        })
        .collect();
    let title = format!("{} {} of {}", action.done_label(), done, outcomes.len());
    let mut ctx = c.context(&title, vec![]);
    ctx.insert("heading".into(), title.into());
    ctx.insert(
        "table".into(),
        json!({ "id": "outcomes", "caption": "Outcome per developer", "columns": [{ "key": "developer", "label": "Developer" }, { "key": "outcome", "label": "Outcome" }], "rows": rows }),
    );
    ctx.insert("next".into(), json!({ "label": format!("Back to {}", tab.label()), "href": views::tab_url(&portal_base(portal), tab) }));
    let status = if done == outcomes.len() { 200 } else { 207 };
    c.html(if status == 207 { 200 } else { status }, "console/bulk.html", ctx)
}

/// The confirmation page a dialog's opener leads to without JavaScript.
async fn confirm<S: ConsoleStore>(store: &S, mut c: Console<'_>, portal: &Portal) -> PageResponse {
    let Some((action, id)) = [Action::Reject, Action::Revoke, Action::Delete]
        .iter()
        .find_map(|a| c.req.query(a.key()).and_then(|v| v.parse::<Uuid>().ok()).map(|v| (*a, v)))
    else {
        return not_found(c);
    };
    let dev = match crate::access::developer_for(store, c.token(), portal.id, id).await {
        Ok(d) => d,
        Err(e) => return c.error_page(&e),
    };
    let tab = c.req.query("tab").and_then(Tab::parse).unwrap_or(Tab::Requested);
    let base = portal_base(portal);
    let mut confirm = views::dialog(&base, action, tab, &portal.settings);
    confirm["subject"] = views::display_name(&dev).into();
    confirm["fields"][action.key()] = id.to_string().into();
    confirm["cancel_href"] = views::tab_url(&base, tab).into();
    let mut ctx = c.context(confirm["title"].as_str().unwrap_or_default(), vec![]);
    ctx.insert("confirm".into(), confirm);
    c.html(200, "confirm.html", ctx)
}

// ------------------------------------------------------------------------------ a developer

async fn developer_page<S: ConsoleStore>(store: &S, mut c: Console<'_>, portal: &Portal, id: Uuid) -> PageResponse {
    let token = c.token().clone();
    let dev = match crate::access::developer_for(store, &token, portal.id, id).await {
        Ok(d) => d,
        Err(e) => return c.error_page(&e),
    };
    let history_params = EventParams { limit: Some("50".into()), ..Default::default() };
    let (teams, apps, history) = tokio::join!(
        crate::teams::list_teams(store, &token, portal.id, Some("100".into()), None),
        store.list_apps(dev.id),
        crate::audit::list_events(store, &token, portal.id, Some(dev.id), &history_params),
    );
    let (teams, apps, history) = match (teams, apps, history) {
        (Ok(t), Ok(a), Ok(h)) => (t, a, h),
        (Err(e), _, _) | (_, _, Err(e)) => return c.error_page(&e),
        (_, Err(e), _) => return c.error_page(&e.into()),
    };
    let keys = futures::future::join_all(apps.iter().map(|a| store.list_credentials(dev.id, a.id))).await;
    let keys: Vec<Vec<crate::domain::Credential>> = keys.into_iter().map(Result::unwrap_or_default).collect();
    let base = portal_base(portal);
    let mut ctx = c.context(&views::display_name(&dev), vec![]);
    ctx.insert("portal_name".into(), portal.name.clone().into());
    ctx.insert(
        "back".into(),
        json!({ "label": format!("Back to {}", portal.name), "href": views::tab_url(&base, Tab::for_state(dev.state)) }),
    );
    ctx.insert("d".into(), views::developer_detail(&base, &dev, &teams.items, &apps, &keys, &history.items));
    c.html(200, "console/developer.html", ctx)
}

async fn membership<S: ConsoleStore>(store: &S, c: Console<'_>, portal: &Portal, dev: Uuid, form: &Form, now: Timestamp) -> PageResponse {
    let token = c.token().clone();
    let back = format!("{}/developers/{dev}", portal_base(portal));
    let done = if let Some(team) = form.optional("remove") {
        match team.parse::<Uuid>() {
            Ok(t) => crate::teams::remove_member(store, &token, portal.id, t, dev, now).await.map(|()| "member_removed"),
            Err(_) => Err(AppError::not_found("team")),
        }
    } else {
        match form.get("team_id").parse::<Uuid>() {
            Ok(t) => crate::teams::add_member(store, &token, portal.id, t, crate::teams::MemberRef { id: dev.to_string() }, now)
                .await
                .map(|_| "member_added"),
            Err(_) => Err(AppError::field("team_id", "choose a team")),
        }
    };
    match done {
        Ok(flash) => c.redirect(&back, Some(flash)),
        Err(e) => {
            let status = crate::http::status_of(&e);
            c.message(status, "This did not work", &error_message(&e), ("Back to the developer", &back))
        }
    }
}

// ------------------------------------------------------------------------------ invites

/// A re-rendered form's status, summary and field errors (`name` → sentence).
type FormProblem = (u16, Vec<Value>, Vec<(String, String)>);

fn invite_page(mut c: Console<'_>, portal: &Portal, form: Option<&Form>, problem: Option<FormProblem>) -> PageResponse {
    let (status, errors, by_field) = problem.unwrap_or((200, vec![], vec![]));
    let mut ctx = c.context("Invite developers", errors);
    ctx.insert("portal_name".into(), portal.name.clone().into());
    ctx.insert("back".into(), json!({ "label": "Back to invites", "href": views::tab_url(&portal_base(portal), Tab::Invites) }));
    ctx.insert("dialog".into(), views::invite_forms(&portal_base(portal), form, &by_field));
    c.html(status, "console/invite.html", ctx)
}

async fn invite_post<S: ConsoleStore>(
    store: &S,
    config: &Config,
    c: Console<'_>,
    portal: &Portal,
    form: &Form,
    now: Timestamp,
) -> PageResponse {
    let token = c.token().clone();
    let result = if form.get("mode") == "password" {
        let body = crate::invites::PasswordInvite {
            username: form.get("username").trim().to_string(),
            password: form.get("password").to_string(),
            name: form.get("name").trim().to_string(),
            email: form.optional("email"),
        };
        crate::invites::invite_with_password(store, &token, portal.id, body, now).await.map(|d| views::created_result(&d))
    } else {
        let emails = views::split_addresses(form.get("emails"));
        crate::invites::invite_links(store, config, &token, portal.id, crate::invites::LinkInvites { emails }, now)
            .await
            .map(|outcomes| views::invite_outcomes(&outcomes))
    };
    match result {
        Ok(r) => {
            let view = View { tab: Some(Tab::Invites), invite_result: Some(r), ..Default::default() };
            portal_page(store, c, portal, view, now).await
        }
        Err(e) => {
            let status = crate::http::status_of(&e);
            if status >= 500 {
                return c.error_page(&e);
            }
            let (by_field, errors) = views::invite_errors(&e);
            invite_page(c, portal, Some(form), Some((status, errors, by_field)))
        }
    }
}

async fn invite_action<S: ConsoleStore>(
    store: &S,
    config: &Config,
    c: Console<'_>,
    portal: &Portal,
    form: &Form,
    now: Timestamp,
) -> PageResponse {
    let token = c.token().clone();
    let back = views::tab_url(&portal_base(portal), Tab::Invites);
    let done = match (form.optional("resend"), form.optional("withdraw")) {
        (Some(id), _) => match id.parse::<Uuid>() {
            Ok(id) => crate::invites::resend_invite(store, config, &token, portal.id, id, now).await.map(|_| "invite_resent"),
            Err(_) => Err(AppError::not_found("invite")),
        },
        (None, Some(id)) => match id.parse::<Uuid>() {
            Ok(id) => crate::invites::withdraw_invite(store, &token, portal.id, id, now).await.map(|()| "invite_withdrawn"),
            Err(_) => Err(AppError::not_found("invite")),
        },
        _ => Err(AppError::not_found("invite")),
    };
    match done {
        Ok(flash) => c.redirect(&back, Some(flash)),
        Err(e) => {
            let status = crate::http::status_of(&e);
            let view = View {
                status: Some(status),
                errors: vec![json!({ "message": error_message(&e) })],
                tab: Some(Tab::Invites),
                ..Default::default()
            };
            portal_page(store, c, portal, view, now).await
        }
    }
}

// ------------------------------------------------------------------------------ settings, teams

async fn settings_post<S: ConsoleStore>(
    store: &S,
    config: &Config,
    c: Console<'_>,
    portal: &Portal,
    form: &Form,
    now: Timestamp,
) -> PageResponse {
    let token = c.token().clone();
    let back = views::tab_url(&portal_base(portal), Tab::Settings);
    let outcome = match views::settings_patch(form) {
        Ok(patch) => match serde_json::from_value::<crate::portals::PortalPatch>(json!({ "settings": patch })) {
            Ok(patch) => crate::portals::patch_portal(store, config, &token, portal.id, patch, now).await.map(|_| ()),
            Err(e) => Err(AppError::field("settings", e.to_string())),
        },
        Err(errs) => Err(AppError::Invalid(errs)),
    };
    match outcome {
        Ok(()) => c.redirect(&back, Some("settings_saved")),
        Err(e) => {
            let status = crate::http::status_of(&e);
            if status >= 500 {
                return c.error_page(&e);
            }
            let (field_errors, errors) = views::settings_errors(&e);
            let view = View {
                status: Some(status),
                errors,
                tab: Some(Tab::Settings),
                field_errors,
                posted: Some(form.clone()),
                ..Default::default()
            };
            portal_page(store, c, portal, view, now).await
        }
    }
}

async fn team_post<S: ConsoleStore>(store: &S, c: Console<'_>, portal: &Portal, form: &Form, now: Timestamp) -> PageResponse {
    let token = c.token().clone();
    let body = crate::teams::NewTeam { name: form.get("name").trim().to_string(), description: form.optional("description") };
    match crate::teams::create_team(store, &token, portal.id, body, now).await {
        Ok(_) => c.redirect(&views::tab_url(&portal_base(portal), Tab::Teams), Some("team_created")),
        Err(e) => {
            let status = crate::http::status_of(&e);
            let view = View {
                status: Some(status),
                errors: vec![json!({ "message": error_message(&e) })],
                tab: Some(Tab::Teams),
                ..Default::default()
            };
            portal_page(store, c, portal, view, now).await
        }
    }
}

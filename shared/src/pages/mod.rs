//! Pages for people (issue 15): the developer pages under `/portal/{portal_id}/` and the hashed
//! static files under `/static/`, server-rendered from `shared/templates/pages/`
//! (`README.md` there is the rule), calling the same use cases as the JSON API.
//!
//! - `web`: the pure edge (request, forms, cookies, CSRF, headers, redirect targets);
//! - `assets`: the embedded static files and brand stylesheets;
//! - `render`: the template environment;
//! - this module: routing, one function per page, and the mapping of the use cases' errors to
//!   the form's errors with the status the JSON route would give.
//!
//! Every successful POST answers 303 to the page to show (POST-redirect-GET), its message in
//! `gh_flash` as a key of [`FLASHES`]; a link's token (verify, reset, invite) is moved into
//! `gh_link` by the link's GET and the URL replaced by a 303; reset and invite tokens are spent
//! only by the page's POST.

pub mod assets;
mod forms;
pub mod lambda;
pub mod render;
mod signed_in;
mod signed_out;
pub mod web;

use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::config::Config;
use crate::domain::{Portal, Timestamp};
use crate::sessions::Authenticated;
use crate::store::*;
use forms::*;
use signed_in::{account, change_password, logout};
use signed_out::*;
use web::{Form, PageRequest};

/// Every port a page may reach (the union of the use cases the pages wrap).
pub trait PageStore:
    PortalStore + DeveloperStore + EventLog + ThrottleStore + SessionStore + LinkStore + InviteStore + AppStore + IdpStore
{
}
impl<T> PageStore for T where
    T: PortalStore + DeveloperStore + EventLog + ThrottleStore + SessionStore + LinkStore + InviteStore + AppStore + IdpStore
{
}

/// A page's answer, before the Lambda response is built from it.
#[derive(Debug, Clone)]
pub struct PageResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    /// `Set-Cookie` values.
    pub cookies: Vec<String>,
    pub body: Vec<u8>,
}

impl PageResponse {
    fn see_other(location: String) -> Self {
        Self { status: 303, headers: vec![("Location", location), ("Cache-Control", "no-store".into())], cookies: vec![], body: vec![] }
    }

    fn cookie(mut self, c: String) -> Self {
        self.cookies.push(c);
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The one-time messages a redirect may carry: `(key, kind, text)`. Only keys travel.
pub const FLASHES: [(&str, &str, &str); 12] = [
    ("registered", "success", "Thanks for registering. We sent you a link to confirm your email address; you can sign in once an administrator approves your account."),
    ("reset_sent", "success", "If an approved account uses this address, a link to set a new password is on its way."),
    ("password_reset", "success", "Your new password is set. Sign in with it."),
    ("invite_accepted", "success", "Your account is ready. Sign in with your new password."),
    ("password_changed", "success", "Your password is changed."),
    ("app_created", "success", "Application created."),
    ("app_deleted", "success", "Application deleted."),
    ("key_deleted", "success", "API key deleted."),
    ("subscribed", "success", "Subscribed."),
    ("unsubscribed", "success", "Unsubscribed."),
    ("signed_out", "success", "You are signed out."),
    ("signed_in_elsewhere", "info", "Sign in to continue."),
];

/// A request to a portal's pages before its portal is read: enough to check a form's CSRF
/// token, run the use case and answer with a redirect. A POST reads the portal only when it
/// renders (an error, a key shown once), so a page costs the round trips of the JSON route it
/// wraps.
struct Pre<'a> {
    portal_id: Uuid,
    req: &'a PageRequest,
    key: &'a [u8],
    base: String,
    csrf: String,
    set: Vec<String>,
}

/// A request with its portal: what rendering needs (the branding) beside [`Pre`].
struct Page<'a> {
    pre: Pre<'a>,
    portal: Portal,
    /// The "Sign in with …" links of the sign-in and register pages ([`sso_links`]).
    sso: Vec<Value>,
}

impl<'a> std::ops::Deref for Page<'a> {
    type Target = Pre<'a>;
    fn deref(&self) -> &Pre<'a> {
        &self.pre
    }
}

impl std::ops::DerefMut for Page<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.pre
    }
}

impl<'a> Pre<'a> {
    fn new(portal_id: Uuid, req: &'a PageRequest, key: &'a [u8]) -> Self {
        Self { portal_id, req, key, base: web::portal_base(portal_id), csrf: String::new(), set: vec![] }
    }

    /// The page with its portal (and, for the sign-in and register pages, the portal's
    /// providers: one `Query` beside the portal's `GetItem`), or the answer for a portal that
    /// does not exist or cannot be read.
    async fn page<S: PageStore>(self, store: &S, with_sso: bool) -> Result<Page<'a>, PageResponse> {
        let (portal, idps) = tokio::join!(store.get_portal(self.portal_id), async {
            if with_sso {
                store.list_idps(self.portal_id).await
            } else {
                Ok(vec![])
            }
        });
        self.with(portal, idps)
    }

    /// The page from its portal and providers, read by the caller (alongside its own reads).
    fn with(
        self,
        portal: StoreResult<Option<Portal>>,
        idps: StoreResult<Vec<crate::domain::IdentityProvider>>,
    ) -> Result<Page<'a>, PageResponse> {
        let portal = match portal {
            Ok(Some(p)) => p,
            Ok(None) => return Err(not_found_page(self.req)),
            Err(e) => {
                tracing::error!(error = %crate::error::error_chain(&e), "reading the portal failed");
                let mut r = not_found_page(self.req);
                r.status = 503;
                return Err(r);
            }
        };
        let sso = match idps {
            Ok(idps) => sso_links(portal.id, &idps),
            // The password form still works without the links.
            Err(e) => {
                tracing::error!(error = %crate::error::error_chain(&e), "listing the identity providers failed");
                vec![]
            }
        };
        Ok(Page { pre: self, portal, sso })
    }

    /// Renders with the portal read first (see [`Pre::page`]).
    async fn render<S: PageStore>(self, store: &S, with_sso: bool, f: impl FnOnce(Page<'a>) -> PageResponse) -> PageResponse {
        match self.page(store, with_sso).await {
            Ok(page) => f(page),
            Err(r) => r,
        }
    }

    fn url(&self, page: &str) -> String {
        format!("{}{page}", self.base)
    }

    fn loopback(&self) -> bool {
        self.req.loopback()
    }

    /// Signed out: the CSRF token is the HMAC of the `gh_csrf` cookie, minted when missing.
    fn pre_session(&mut self) {
        let cookie = match self.req.cookie(web::CSRF_COOKIE) {
            Some(c) => c.to_string(),
            None => {
                let c = web::new_csrf_cookie();
                self.set.push(web::set_cookie(web::CSRF_COOKIE, &c, &self.base, None, self.loopback()));
                c
            }
        };
        self.csrf = web::pre_session_csrf(self.key, &cookie);
    }

    /// Whether a signed-out POST carries its token (and comes from this site).
    fn pre_session_post_ok(&self, form: &Form) -> bool {
        let Some(cookie) = self.req.cookie(web::CSRF_COOKIE) else { return false };
        !web::cross_site(self.req) && web::csrf_ok(&web::pre_session_csrf(self.key, cookie), form.get("csrf_token"))
    }

    fn signed_in(&mut self, token: &str) {
        self.csrf = web::session_csrf(self.key, token);
    }

    fn session_post_ok(&self, token: &str, form: &Form) -> bool {
        !web::cross_site(self.req) && web::csrf_ok(&web::session_csrf(self.key, token), form.get("csrf_token"))
    }

    fn flash(&mut self, key: &str) -> String {
        web::set_cookie(web::FLASH_COOKIE, key, &self.base, Some(60), self.loopback())
    }

    fn redirect(mut self, page: &str, flash: Option<&str>) -> PageResponse {
        let mut r = PageResponse::see_other(self.url(page));
        if let Some(f) = flash {
            let c = self.flash(f);
            self.set.push(c);
        }
        r.cookies = self.set;
        r
    }
}

impl<'a> Page<'a> {
    fn redirect(self, page: &str, flash: Option<&str>) -> PageResponse {
        self.pre.redirect(page, flash)
    }

    /// The context every page starts from (base.html's keys), with the flash message read and
    /// cleared.
    fn context(&mut self, title: &str, errors: Vec<Value>) -> Map<String, Value> {
        let s = &self.portal.settings;
        let mut site = Map::new();
        site.insert("name".into(), self.portal.name.clone().into());
        site.insert("home_url".into(), self.url("login").into());
        site.insert("kind".into(), "portal".into());
        if let Some(c) = &s.brand_color {
            site.insert("brand_color".into(), c.clone().into());
        }
        if let Some(l) = &s.logo_url {
            site.insert("logo_url".into(), l.clone().into());
        }
        let mut ctx = Map::new();
        ctx.insert("title".into(), title.into());
        ctx.insert("site".into(), Value::Object(site));
        ctx.insert("csrf_token".into(), self.csrf.clone().into());
        ctx.insert("sso_providers".into(), Value::Array(self.sso.clone()));
        if let Some(key) = self.req.cookie(web::FLASH_COOKIE) {
            if let Some((_, kind, text)) = FLASHES.iter().find(|(k, _, _)| *k == key) {
                ctx.insert("notices".into(), json!([{ "kind": kind, "text": text }]));
            }
            let clear = web::clear_cookie(web::FLASH_COOKIE, &self.base, self.loopback());
            self.pre.set.push(clear);
        }
        if !errors.is_empty() {
            ctx.insert("errors".into(), Value::Array(errors));
        }
        ctx
    }

    fn signed_in_chrome(&self, ctx: &mut Map<String, Value>, auth: &Authenticated, current: &str) {
        let d = &auth.developer;
        ctx.insert(
            "user".into(),
            json!({ "name": d.name, "email": d.email.clone().or_else(|| d.username.clone()).unwrap_or_default(), "sign_out_action": self.url("logout") }),
        );
        if !d.must_change_password {
            ctx.insert(
                "nav".into(),
                json!([
                    { "label": "Account", "href": self.url("account"), "current": current == "account" },
                    { "label": "Change password", "href": self.url("change-password"), "current": current == "change-password" },
                ]),
            );
        }
    }

    fn html(self, status: u16, template: &str, ctx: Map<String, Value>) -> PageResponse {
        let logo_origin = self.portal.settings.logo_url.as_deref().and_then(web::origin_of);
        let headers = web::page_headers(logo_origin.as_deref(), self.loopback());
        match render::render(template, &minijinja::Value::from_serialize(Value::Object(ctx))) {
            Ok(body) => PageResponse { status, headers, cookies: self.pre.set, body: body.into_bytes() },
            Err(e) => {
                tracing::error!(error = %e, template, "a page failed to render");
                PageResponse {
                    status: 500,
                    headers,
                    cookies: self.pre.set,
                    body: b"<!doctype html><title>Error</title><p>Something went wrong.</p>".to_vec(),
                }
            }
        }
    }

    /// A one-card form page.
    #[allow(clippy::too_many_arguments)]
    fn form_page(
        mut self,
        status: u16,
        title: &str,
        lead: Option<&str>,
        action: &str,
        submit: &str,
        defs: &[FieldDef],
        form: Option<&Form>,
        problem: Option<&Problem>,
        extra: Value,
        auth: Option<&Authenticated>,
    ) -> PageResponse {
        let (by_field, errors) = form_errors(defs, problem);
        let mut ctx = self.context(title, errors);
        ctx.insert("heading".into(), title.into());
        if let Some(l) = lead {
            ctx.insert("lead".into(), l.into());
        }
        ctx.insert("form".into(), json!({ "action": self.url(action), "submit": submit, "fields": fields(defs, form, &by_field, "") }));
        if let Value::Object(extra) = extra {
            ctx.extend(extra);
        }
        if let Some(a) = auth {
            self.signed_in_chrome(&mut ctx, a, action);
        }
        self.html(status, "portal/form.html", ctx)
    }

    fn message(mut self, status: u16, heading: &str, text: &str, next: Option<(&str, &str)>) -> PageResponse {
        let mut ctx = self.context(heading, vec![]);
        ctx.insert("heading".into(), heading.into());
        ctx.insert("text".into(), text.into());
        if let Some((label, page)) = next {
            ctx.insert("next".into(), json!({ "label": label, "href": self.url(page) }));
        }
        self.html(status, "portal/message.html", ctx)
    }
}

/// A whole page for a request nothing here answers (no portal, no such page).
fn not_found_page(req: &PageRequest) -> PageResponse {
    let body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Page not found</title></head><body><main><h1>Page not found</h1><p>There is no page at this address.</p></main></body></html>";
    PageResponse { status: 404, headers: web::page_headers(None, req.loopback()), cookies: vec![], body: body.as_bytes().to_vec() }
}

fn static_file(path: &str) -> Option<PageResponse> {
    let (content_type, bytes) = assets::lookup(path)?;
    Some(PageResponse {
        status: 200,
        headers: vec![
            ("Content-Type", content_type.to_string()),
            ("Cache-Control", assets::IMMUTABLE.to_string()),
            ("X-Content-Type-Options", "nosniff".to_string()),
        ],
        cookies: vec![],
        body: bytes,
    })
}

/// Which routes a function of pages serves (issue 18: zip size). The pages that set a password
/// (the register, reset and invite POSTs, change-password) link zxcvbn's dictionaries and
/// Argon2id's hashing; they are the `pages-passwords` function, every other page the `pages`
/// function, so neither zip carries the other's code. API Gateway routes the password pages to
/// their function by their more specific routes (template.yaml); [`handle`] serves both sets
/// (tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pages {
    /// Every page but the password ones, and the static files.
    Main,
    /// The pages that set a password.
    Passwords,
}

impl Pages {
    /// The set that serves `method` on the portal page `page` (the path after the portal id).
    pub fn of(method: &str, page: &str) -> Pages {
        match (method == "POST", page) {
            (true, "register" | "reset-password" | "invite") | (_, "change-password") => Pages::Passwords,
            _ => Pages::Main,
        }
    }
}

/// The page of a `/portal/{portal_id}/...` path (the path after the portal id).
fn portal_page_of(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["portal", _, rest @ ..] => Some(rest.join("/")),
        _ => None,
    }
}

/// The request's portal and page when `SET`'s function serves it, or its answer: a static file
/// (only the main set has them: `STATIC`, a constant, so the other function links no asset) or
/// a 404.
fn route_in<'a, const STATIC: bool>(req: &'a PageRequest, config: &'a Config, set: Pages) -> Result<(Pre<'a>, String), PageResponse> {
    let segments: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["static", rest @ ..] if STATIC && (req.method == "GET" || req.method == "HEAD") => {
            Err(static_file(&rest.join("/")).unwrap_or_else(|| not_found_page(req)))
        }
        ["portal", id, rest @ ..] => {
            let page = rest.join("/");
            match id.parse::<Uuid>() {
                Ok(id) if Pages::of(&req.method, &page) == set => Ok((Pre::new(id, req, &config.token_secret), page)),
                _ => Err(not_found_page(req)),
            }
        }
        _ => Err(not_found_page(req)),
    }
}

/// Answers one request to `/static/...` or `/portal/{portal_id}/...`, any page.
pub async fn handle<S: PageStore>(store: &S, config: &Config, req: &PageRequest, now: Timestamp) -> PageResponse {
    match portal_page_of(&req.path) {
        Some(page) if Pages::of(&req.method, &page) == Pages::Passwords => handle_passwords(store, config, req, now).await,
        _ => handle_main(store, config, req, now).await,
    }
}

/// The `pages-passwords` function: the pages that set a password; any other path is a 404.
pub async fn handle_passwords<S: PageStore>(store: &S, config: &Config, req: &PageRequest, now: Timestamp) -> PageResponse {
    let (pre, rest) = match route_in::<false>(req, config, Pages::Passwords) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let post = req.method == "POST";
    match rest.as_str() {
        "register" => register_post(store, config, pre, now).await,
        "reset-password" => reset_post(store, pre, now).await,
        "invite" => invite_post(store, pre, now).await,
        _ => change_password(store, pre, post, now).await,
    }
}

/// The `pages` function: every page but the password ones (a 404 there), and the static files.
pub async fn handle_main<S: PageStore>(store: &S, config: &Config, req: &PageRequest, now: Timestamp) -> PageResponse {
    let (pre, rest) = match route_in::<true>(req, config, Pages::Main) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let post = req.method == "POST";
    // The pages that only render read their portal first; the POSTs and the signed-in pages
    // read it when (and alongside what) they render.
    let with_sso = matches!(rest.as_str(), "login" | "register");
    let link = matches!(rest.as_str(), "verify-email" | "reset-password" | "invite");
    if !post && link {
        if let Some(r) = take_link_token(&pre, &rest) {
            return r;
        }
        if rest == "verify-email" {
            return verify_email(store, pre, now).await;
        }
    }
    let page_first = !post && (link || matches!(rest.as_str(), "" | "login" | "register" | "forgot-password"));
    if page_first {
        let page = match pre.page(store, with_sso).await {
            Ok(p) => p,
            Err(r) => return r,
        };
        return match rest.as_str() {
            "" => page.redirect("login", None),
            "login" => login(page, None, None),
            "register" => register(page, None, None),
            "forgot-password" => forgot(page, None, None),
            "reset-password" => link_page(page, "reset-password"),
            _ => link_page(page, "invite"),
        };
    }
    match (post, rest.as_str()) {
        (true, "login") => login_post(store, config, pre, now).await,
        (true, "logout") => logout(store, pre, now).await,
        (true, "forgot-password") => forgot_post(store, pre, now).await,
        (_, p) if p == "account" || p.starts_with("account/") => account(store, pre, post, p, now).await,
        _ => {
            pre.render(store, false, |page| {
                page.message(404, "Page not found", "There is no page at this address.", Some(("Go to sign in", "login")))
            })
            .await
        }
    }
}

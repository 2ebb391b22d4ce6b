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
pub mod lambda;
pub mod render;
pub mod web;

use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::config::Config;
use crate::domain::{FieldError, Portal, Timestamp, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS};
use crate::error::AppError;
use crate::sessions::Authenticated;
use crate::store::*;
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

const EXPIRED_FORM: &str = "This form expired. Check the fields and send it again.";
const BAD_LOGIN: &str = "Wrong email, username or password. Check them and try again, or reset your password.";

/// A field of a form: its name (the use case's field), label and kind.
#[derive(Clone, Copy)]
struct FieldDef {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    hint: Option<&'static str>,
    optional: bool,
    /// A new password: the rules are shown below it.
    new_password: bool,
}

const fn field(name: &'static str, label: &'static str, kind: &'static str, autocomplete: &'static str) -> FieldDef {
    FieldDef { name, label, kind, autocomplete, hint: None, optional: false, new_password: false }
}

const NEW_PASSWORD_NOTE: &str = "Hard to guess: not your name, email address or a common phrase. We check this when you submit.";

const REGISTER: [FieldDef; 4] = [
    field("name", "Full name", "text", "name"),
    FieldDef { hint: Some("We send a link to confirm it."), ..field("email", "Email address", "email", "email") },
    FieldDef {
        hint: Some("You can sign in with it instead of your email address."),
        optional: true,
        ..field("username", "Username", "text", "username")
    },
    FieldDef { new_password: true, ..field("password", "Password", "password", "new-password") },
];
const LOGIN: [FieldDef; 2] =
    [field("login", "Email address or username", "text", "username"), field("password", "Password", "password", "current-password")];
const FORGOT: [FieldDef; 1] = [field("email", "Email address", "email", "email")];
const RESET: [FieldDef; 1] = [FieldDef { new_password: true, ..field("new_password", "New password", "password", "new-password") }];
const INVITE: [FieldDef; 3] = [
    field("name", "Full name", "text", "name"),
    FieldDef {
        hint: Some("You can sign in with it instead of your email address."),
        optional: true,
        ..field("username", "Username", "text", "username")
    },
    FieldDef { new_password: true, ..field("password", "Password", "password", "new-password") },
];
const CHANGE: [FieldDef; 2] = [
    field("current_password", "Current password", "password", "current-password"),
    FieldDef { new_password: true, ..field("new_password", "New password", "password", "new-password") },
];
const NEW_APP: [FieldDef; 2] = [
    field("name", "Application name", "text", "off"),
    FieldDef { optional: true, ..field("description", "Description", "textarea", "off") },
];

/// What went wrong with a posted form, as the page shows it.
enum Problem {
    App(AppError),
    /// The CSRF check failed (403).
    Expired,
}

impl Problem {
    fn status(&self) -> u16 {
        match self {
            Self::App(e) => crate::http::status_of(e),
            Self::Expired => 403,
        }
    }
}

/// A use case's sentence as a page sentence: capitalised, with a full stop.
fn sentence(s: &str) -> String {
    let mut c = s.chars();
    let mut out: String = c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default();
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// The field errors of a form (by field name) and the form's errors without a field.
fn form_errors(defs: &[FieldDef], problem: Option<&Problem>) -> (Vec<(String, String)>, Vec<Value>) {
    let mut by_field = Vec::new();
    let mut summary = Vec::new();
    match problem {
        None => {}
        Some(Problem::Expired) => summary.push(json!({ "message": EXPIRED_FORM })),
        Some(Problem::App(AppError::Invalid(errs))) => {
            for FieldError { field, message } in errs {
                match defs.iter().find(|d| d.name == field) {
                    Some(d) => {
                        let text = sentence(&format!("{} {message}", d.label));
                        by_field.push((field.clone(), text.clone()));
                        summary.push(json!({ "message": text, "field": field }));
                    }
                    None if field == "token" => {
                        summary.push(json!({ "message": "This link is not valid. Open the link from your email again." }));
                    }
                    None => summary.push(json!({ "message": sentence(&format!("{field} {message}")) })),
                }
            }
        }
        Some(Problem::App(AppError::Unauthenticated(m))) if m == "the login or password is wrong" => {
            summary.push(json!({ "message": BAD_LOGIN }));
        }
        Some(Problem::App(AppError::Internal(_))) => {
            summary.push(json!({ "message": "Something went wrong on our side. It has been logged; try again in a moment." }))
        }
        Some(Problem::App(AppError::Unavailable(_))) => summary.push(json!({ "message": "The service is busy. Try again in a moment." })),
        Some(Problem::App(e)) => summary.push(json!({ "message": sentence(&e.to_string()) })),
    }
    (by_field, summary)
}

/// The fields' contexts for `partials/field.html`: values entered (never a password), errors.
fn fields(defs: &[FieldDef], form: Option<&Form>, errors: &[(String, String)], id_suffix: &str) -> Vec<Value> {
    defs.iter()
        .map(|d| {
            let mut f = Map::new();
            f.insert("name".into(), d.name.into());
            f.insert("label".into(), d.label.into());
            f.insert("type".into(), d.kind.into());
            f.insert("autocomplete".into(), d.autocomplete.into());
            if !id_suffix.is_empty() {
                f.insert("id".into(), format!("f-{}{id_suffix}", d.name).into());
            }
            if d.optional {
                f.insert("optional".into(), true.into());
            } else {
                f.insert("required".into(), true.into());
            }
            if let Some(h) = d.hint {
                f.insert("hint".into(), h.into());
            }
            if d.new_password {
                f.insert("rules".into(), json!({ "min": PASSWORD_MIN_CHARS, "max": PASSWORD_MAX_CHARS, "note": NEW_PASSWORD_NOTE }));
            }
            if let Some(v) = form.map(|f| f.get(d.name)).filter(|v| !v.is_empty() && d.kind != "password") {
                f.insert("value".into(), v.into());
            }
            if let Some((_, e)) = errors.iter().find(|(n, _)| n == d.name) {
                f.insert("error".into(), e.clone().into());
            }
            Value::Object(f)
        })
        .collect()
}

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

/// Answers one request to `/static/...` or `/portal/{portal_id}/...`.
pub async fn handle<S: PageStore>(store: &S, config: &Config, req: &PageRequest, now: Timestamp) -> PageResponse {
    let segments: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    let (portal_id, rest) = match segments.as_slice() {
        ["static", rest @ ..] if req.method == "GET" || req.method == "HEAD" => {
            return static_file(&rest.join("/")).unwrap_or_else(|| not_found_page(req));
        }
        ["portal", id, rest @ ..] => match id.parse::<Uuid>() {
            Ok(id) => (id, rest.join("/")),
            Err(_) => return not_found_page(req),
        },
        _ => return not_found_page(req),
    };
    let pre = Pre::new(portal_id, req, &config.token_secret);
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
        (true, "register") => register_post(store, config, pre, now).await,
        (true, "forgot-password") => forgot_post(store, pre, now).await,
        (true, "reset-password") => reset_post(store, pre, now).await,
        (true, "invite") => invite_post(store, pre, now).await,
        (_, "change-password") => change_password(store, pre, post, now).await,
        (_, p) if p == "account" || p.starts_with("account/") => account(store, pre, post, p, now).await,
        _ => {
            pre.render(store, false, |page| {
                page.message(404, "Page not found", "There is no page at this address.", Some(("Go to sign in", "login")))
            })
            .await
        }
    }
}

// ----------------------------------------------------------------------------- signed out

/// The "Sign in with …" links of a portal's enabled providers, in their stored order: each to
/// the provider's start route, coming back to the account page. Only the id and display name
/// of a provider reach the page.
fn sso_links(portal_id: Uuid, idps: &[crate::domain::IdentityProvider]) -> Vec<Value> {
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

fn login_extra(page: &Page<'_>) -> Value {
    json!({
        "links": [{ "label": "Forgot your password?", "href": page.url("forgot-password") }],
        "footer_link": { "before": "New here?", "label": "Create an account", "href": page.url("register") },
    })
}

fn login(mut page: Page<'_>, form: Option<&Form>, problem: Option<Problem>) -> PageResponse {
    page.pre_session();
    let status = problem.as_ref().map_or(200, Problem::status);
    let extra = login_extra(&page);
    let lead = format!("Welcome back to {}.", page.portal.name);
    page.form_page(status, "Sign in", Some(&lead), "login", "Sign in", &LOGIN, form, problem.as_ref(), extra, None)
}

async fn login_post<S: PageStore>(store: &S, config: &Config, pre: Pre<'_>, now: Timestamp) -> PageResponse {
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

fn register(mut page: Page<'_>, form: Option<&Form>, problem: Option<Problem>) -> PageResponse {
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

async fn register_post<S: PageStore>(store: &S, config: &Config, pre: Pre<'_>, now: Timestamp) -> PageResponse {
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

fn forgot(mut page: Page<'_>, form: Option<&Form>, problem: Option<Problem>) -> PageResponse {
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

async fn forgot_post<S: PageStore>(store: &S, pre: Pre<'_>, now: Timestamp) -> PageResponse {
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
fn take_link_token(page: &Pre<'_>, name: &str) -> Option<PageResponse> {
    let token = page.req.query("token").filter(|t| !t.is_empty() && t.len() <= 512)?;
    let safe: String = token.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.~".contains(*c)).collect();
    let cookie = web::set_cookie(web::LINK_COOKIE, &safe, &page.url(name), Some(900), page.loopback());
    Some(PageResponse::see_other(page.url(name)).cookie(cookie))
}

fn link_gone(page: Page<'_>, name: &str) -> PageResponse {
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
async fn verify_email<S: PageStore>(store: &S, pre: Pre<'_>, now: Timestamp) -> PageResponse {
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

fn error_page(page: Page<'_>, e: &AppError) -> PageResponse {
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
fn link_page(page: Page<'_>, name: &str) -> PageResponse {
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

fn link_form(mut page: Page<'_>, name: &str, form: Option<&Form>, problem: Option<Problem>) -> PageResponse {
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

fn link_spent(e: &AppError) -> bool {
    match e {
        AppError::Gone(_) | AppError::NotFound { .. } => true,
        AppError::Invalid(errs) => errs.iter().any(|f| f.field == "token"),
        _ => false,
    }
}

async fn reset_post<S: PageStore>(store: &S, pre: Pre<'_>, now: Timestamp) -> PageResponse {
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

async fn invite_post<S: PageStore>(store: &S, pre: Pre<'_>, now: Timestamp) -> PageResponse {
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

// ------------------------------------------------------------------------------ signed in

/// The session of the request, or the answer that sends the browser to sign in.
async fn session<'a, S: PageStore>(store: &S, pre: Pre<'a>, now: Timestamp) -> Result<(Pre<'a>, Authenticated, String), PageResponse> {
    let token = pre.req.cookie(web::SESSION_COOKIE).map(str::to_string);
    match crate::sessions::authenticate(store, token.clone(), pre.portal_id, now).await {
        Ok(auth) => {
            let mut pre = pre;
            let token = token.unwrap_or_default();
            pre.signed_in(&token);
            Ok((pre, auth, token))
        }
        Err(AppError::Unauthenticated(_)) => {
            let loopback = pre.loopback();
            let mut r = pre.redirect("login", Some("signed_in_elsewhere"));
            if token.is_some() {
                r.cookies.push(web::clear_cookie(web::SESSION_COOKIE, "/", loopback));
            }
            Err(r)
        }
        Err(e) => Err(pre.render(store, false, |page| error_page(page, &e)).await),
    }
}

async fn logout<S: PageStore>(store: &S, pre: Pre<'_>, now: Timestamp) -> PageResponse {
    let form = pre.req.form();
    let loopback = pre.loopback();
    let clear = web::clear_cookie(web::SESSION_COOKIE, "/", loopback);
    let token = pre.req.cookie(web::SESSION_COOKIE).map(str::to_string);
    if let Ok(auth) = crate::sessions::authenticate(store, token.clone(), pre.portal_id, now).await {
        if !pre.session_post_ok(token.as_deref().unwrap_or_default(), &form) {
            return pre
                .render(store, false, |page| page.message(403, "This form expired", EXPIRED_FORM, Some(("Go to your account", "account"))))
                .await;
        }
        if let Err(e) = store.delete_session(auth.developer.id, &auth.session.token_hash).await {
            return pre.render(store, false, |page| error_page(page, &e.into())).await;
        }
    }
    pre.redirect("login", Some("signed_out")).cookie(clear)
}

async fn change_password<S: PageStore>(store: &S, pre: Pre<'_>, post: bool, now: Timestamp) -> PageResponse {
    let (pre, auth, token) = match session(store, pre, now).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let forced = auth.developer.must_change_password;
    let lead = if forced { Some("You signed in with a one-time password. Choose your own password before anything else.") } else { None };
    let show = |page: Page<'_>, auth: &Authenticated, form: Option<&Form>, problem: Option<Problem>| {
        let status = problem.as_ref().map_or(200, Problem::status);
        let title = if forced { "Choose your password" } else { "Change password" };
        page.form_page(status, title, lead, "change-password", "Change password", &CHANGE, form, problem.as_ref(), json!({}), Some(auth))
    };
    if !post {
        return pre.render(store, false, |page| show(page, &auth, None, None)).await;
    }
    let form = pre.req.form();
    if !pre.session_post_ok(&token, &form) {
        return pre.render(store, false, |page| show(page, &auth, Some(&form), Some(Problem::Expired))).await;
    }
    let body = crate::sessions::PasswordChange {
        current_password: form.get("current_password").to_string(),
        new_password: form.get("new_password").to_string(),
    };
    let kept = auth.clone_auth();
    match crate::sessions::change_password(store, auth, body, &pre.req.client_ip, now).await {
        Ok(()) => pre.redirect("account", Some("password_changed")),
        Err(e) => pre.render(store, false, |page| show(page, &kept, Some(&form), Some(Problem::App(e)))).await,
    }
}

/// Which of the account page's forms a problem concerns.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum ProblemIn {
    /// The page as a whole (the summary only).
    #[default]
    Page,
    NewApp,
    /// The product field of this application's subscribe form.
    Subscribe(Uuid),
}

/// What the account page shows beside the account itself.
#[derive(Default)]
struct AccountView<'f> {
    /// An API key just created: its application and the key, shown once.
    new_key: Option<(Uuid, String)>,
    /// The form whose values are shown again (the new-application or a subscribe form).
    form: Option<&'f Form>,
    problem: Option<Problem>,
    problem_in: ProblemIn,
    notice: Option<&'static str>,
}

async fn account<S: PageStore>(store: &S, pre: Pre<'_>, post: bool, path: &str, now: Timestamp) -> PageResponse {
    let (pre, auth, token) = match session(store, pre, now).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if auth.developer.must_change_password {
        return pre.redirect("change-password", None);
    }
    let action = path.strip_prefix("account").unwrap_or_default().trim_start_matches('/');
    if !post {
        return match action {
            "" => account_page(store, pre, &auth, AccountView::default()).await,
            "delete-app" | "delete-key" => pre.render(store, false, |page| confirm_page(page, action)).await,
            _ => {
                pre.render(store, false, |page| {
                    page.message(404, "Page not found", "There is no page at this address.", Some(("Go to your account", "account")))
                })
                .await
            }
        };
    }
    let form = pre.req.form();
    if !pre.session_post_ok(&token, &form) {
        let view = AccountView { problem: Some(Problem::Expired), ..Default::default() };
        return account_page(store, pre, &auth, view).await;
    }
    let app_id = form.get("app_id").parse::<Uuid>();
    let problem = |e, problem_in| AccountView { form: Some(&form), problem: Some(Problem::App(e)), problem_in, ..Default::default() };
    let done = match (action, app_id) {
        ("applications", _) => {
            let body =
                crate::applications::NewApplication { name: form.get("name").to_string(), description: form.optional("description") };
            match crate::applications::create_app(store, auth.clone_auth(), body, now).await {
                Ok(_) => Ok("app_created"),
                Err(e) => return account_page(store, pre, &auth, problem(e, ProblemIn::NewApp)).await,
            }
        }
        ("keys", Ok(app)) => {
            let nonce = form.get("nonce");
            if !nonce.is_empty() && pre.req.cookie(web::KEY_NONCE_COOKIE) == Some(nonce) {
                let view = AccountView {
                    notice: Some("This key was already created and is shown only once. Create another key if you need one."),
                    ..Default::default()
                };
                return account_page(store, pre, &auth, view).await;
            }
            match crate::applications::create_credential(store, &auth, app, now).await {
                Ok((_, key)) => {
                    let safe: String = nonce.chars().filter(char::is_ascii_alphanumeric).take(64).collect();
                    let cookie = web::set_cookie(web::KEY_NONCE_COOKIE, &safe, &pre.base, Some(3600), pre.loopback());
                    let view = AccountView { new_key: Some((app, key)), ..Default::default() };
                    return account_page(store, pre, &auth, view).await.cookie(cookie);
                }
                Err(e) => Err(e),
            }
        }
        ("delete-app", Ok(app)) => crate::applications::delete_app(store, auth.clone_auth(), app, now).await.map(|()| "app_deleted"),
        ("delete-key", _) => match form.get("key").split_once(':').map(|(a, c)| (a.parse::<Uuid>(), c.parse::<Uuid>())) {
            Some((Ok(app), Ok(credential))) => {
                crate::applications::delete_credential(store, &auth, app, credential, now).await.map(|()| "key_deleted")
            }
            _ => Err(AppError::not_found("credential")),
        },
        ("subscribe", Ok(app)) => {
            let body = crate::applications::Subscribe { product: form.get("product").to_string() };
            match crate::applications::subscribe(store, &auth, app, body, now).await {
                Ok(_) => Ok("subscribed"),
                // The field's own errors, and a second subscription to the same product, stand
                // next to that application's product field.
                Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
                    return account_page(store, pre, &auth, problem(e, ProblemIn::Subscribe(app))).await
                }
                Err(e) => Err(e),
            }
        }
        ("unsubscribe", Ok(app)) => {
            crate::applications::unsubscribe(store, &auth, app, form.get("product"), now).await.map(|()| "unsubscribed")
        }
        (_, Err(_)) => Err(AppError::not_found("application")),
        _ => Err(AppError::not_found("page")),
    };
    match done {
        Ok(flash) => pre.redirect("account", Some(flash)),
        Err(e) => account_page(store, pre, &auth, AccountView { problem: Some(Problem::App(e)), ..Default::default() }).await,
    }
}

impl Authenticated {
    fn clone_auth(&self) -> Authenticated {
        Authenticated { developer: self.developer.clone(), session: self.session.clone() }
    }
}

fn confirm_page(mut page: Page<'_>, action: &str) -> PageResponse {
    let (title, text, label, names): (&str, &str, &str, &[&str]) = match action {
        "delete-app" => ("Delete this application?", "Its API keys stop working at once. This cannot be undone.", "Delete", &["app_id"]),
        _ => ("Delete this API key?", "Anything using it stops working at once. This cannot be undone.", "Delete", &["key"]),
    };
    let fields: Map<String, Value> = names.iter().map(|n| (n.to_string(), page.req.query(n).unwrap_or_default().into())).collect();
    let mut ctx = page.context(title, vec![]);
    let confirm = json!({
        "id": action, "title": title, "text": text, "confirm_label": label, "action": page.url(&format!("account/{action}")),
        "fields": fields, "cancel_href": page.url("account"),
    });
    ctx.insert("confirm".into(), confirm);
    ctx.insert("user".into(), json!({ "name": "", "sign_out_action": page.url("logout") }));
    page.html(200, "confirm.html", ctx)
}

/// The product field of an application's subscribe form.
const PRODUCT: FieldDef = FieldDef {
    hint: Some("Letters, digits, '-', '_' or '.', as the API's documentation names it."),
    ..field("product", "API product", "text", "off")
};

/// The account page: the portal read alongside the applications (`Query`), then every
/// application's keys concurrently; the same round trips as `GET .../me/applications` and
/// its keys.
async fn account_page<S: PageStore>(store: &S, pre: Pre<'_>, auth: &Authenticated, view: AccountView<'_>) -> PageResponse {
    let portal_id = pre.portal_id;
    let (portal, apps) = tokio::join!(store.get_portal(portal_id), crate::applications::apps_with_credentials(store, auth));
    let mut page = match pre.with(portal, Ok(vec![])) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let apps = match apps {
        Ok(a) => a,
        Err(e) => return error_page(page, &e),
    };
    let defs: &[FieldDef] = match view.problem_in {
        ProblemIn::NewApp => &NEW_APP,
        ProblemIn::Subscribe(_) => std::slice::from_ref(&PRODUCT),
        ProblemIn::Page => &[],
    };
    let (field_errors, mut errors) = match (&view.problem, view.problem_in) {
        // A second subscription is the field's error too.
        (Some(Problem::App(AppError::Conflict(m))), ProblemIn::Subscribe(_)) => {
            let text = sentence(m);
            (vec![("product".to_string(), text.clone())], vec![json!({ "message": text, "field": "product" })])
        }
        (p, _) => form_errors(defs, p.as_ref()),
    };
    let status = view.problem.as_ref().map_or(200, Problem::status);
    // The summary links to the field of the form concerned.
    let target_of = |field: &str| match view.problem_in {
        ProblemIn::NewApp => Some(format!("f-app-{field}")),
        ProblemIn::Subscribe(app) => apps.iter().position(|(a, _)| a.id == app).map(|i| format!("f-product-{}", i + 1)),
        ProblemIn::Page => None,
    };
    for e in &mut errors {
        if let Some(t) = e.get("field").and_then(Value::as_str).and_then(target_of) {
            e["target"] = t.into();
        }
    }
    let mut ctx = page.context("Your account", errors);
    if let Some(n) = view.notice {
        ctx.insert("notices".into(), json!([{ "kind": "info", "text": n }]));
    }
    page.signed_in_chrome(&mut ctx, auth, "account");
    let d = &auth.developer;
    let mut profile = vec![json!({ "label": "Name", "value": d.name })];
    if let Some(e) = &d.email {
        profile.push(json!({ "label": "Email address", "value": e }));
    }
    if let Some(u) = &d.username {
        profile.push(json!({ "label": "Username", "value": u }));
    }
    profile.push(json!({ "label": "Member since", "value": d.created_at.format("%-d %B %Y").to_string() }));
    ctx.insert("profile".into(), Value::Array(profile));
    let delete_key_action = page.url("account/delete-key");
    let unsubscribe_action = page.url("account/unsubscribe");
    let mut rows = Vec::new();
    for (i, (app, creds)) in apps.iter().enumerate() {
        let key_rows: Vec<Value> = creds
            .iter()
            .map(|c| {
                let value = format!("{}:{}", app.id, c.id);
                json!({ "id": c.id, "cells": { "key": format!("{}…", c.key_prefix), "created": c.created_at.format("%-d %b %Y %H:%M UTC").to_string() },
                        "actions": [{ "label": "Delete", "kind": "danger", "small": true, "opens": "delete-key", "href": delete_key_action,
                                      "action": delete_key_action, "name": "key", "value": value, "subject": format!("{}…", c.key_prefix) }] })
            })
            .collect();
        let nonce: String = crate::crypto::nonce().chars().filter(char::is_ascii_alphanumeric).collect();
        let subscribe_here = view.problem_in == ProblemIn::Subscribe(app.id);
        let mut product_field = fields(
            std::slice::from_ref(&PRODUCT),
            view.form.filter(|_| subscribe_here),
            if subscribe_here { &field_errors } else { &[] },
            "",
        )
        .remove(0);
        product_field["id"] = format!("f-product-{}", i + 1).into();
        product_field["label"] = format!("API product for {}", app.name).into();
        let mut app_json = json!({
            "id": app.id, "name": app.name, "products": app.products,
            "keys": { "id": format!("keys-{}", i + 1), "caption": format!("API keys of {}", app.name),
                      "columns": [{ "key": "key", "label": "Key", "mono": true }, { "key": "created", "label": "Created" }],
                      "rows": key_rows, "empty": "No API keys yet." },
            "key_action": page.url("account/keys"), "key_nonce": nonce,
            "subscribe_action": page.url("account/subscribe"), "unsubscribe_action": unsubscribe_action,
            "product_field": product_field,
        });
        if let Some(desc) = &app.description {
            app_json["description"] = desc.clone().into();
        }
        rows.push(app_json);
    }
    ctx.insert("apps".into(), Value::Array(rows));
    let new_app_form = view.form.filter(|_| view.problem_in == ProblemIn::NewApp);
    let new_app_errors = if view.problem_in == ProblemIn::NewApp { field_errors.as_slice() } else { &[] };
    let mut new_app_fields = fields(&NEW_APP, new_app_form, new_app_errors, "");
    for f in &mut new_app_fields {
        let id = format!("f-app-{}", f["name"].as_str().unwrap_or_default());
        f["id"] = id.into();
    }
    ctx.insert("create_app".into(), json!({ "action": page.url("account/applications"), "fields": new_app_fields }));
    if let Some((app_id, key)) = view.new_key {
        let app_name = apps.iter().find(|(a, _)| a.id == app_id).map(|(a, _)| a.name.clone()).unwrap_or_default();
        ctx.insert("new_key".into(), json!({ "app_name": app_name, "key": key }));
    }
    let dialog = |id: &str, title: &str, text: &str, label: &str, action: String| json!({ "id": id, "title": title, "text": text, "confirm_label": label, "action": action });
    ctx.insert(
        "delete_app".into(),
        dialog(
            "delete-app",
            "Delete this application?",
            "Its API keys stop working at once. This cannot be undone.",
            "Delete",
            page.url("account/delete-app"),
        ),
    );
    ctx.insert(
        "delete_key".into(),
        dialog(
            "delete-key",
            "Delete this API key?",
            "Anything using it stops working at once. This cannot be undone.",
            "Delete",
            delete_key_action,
        ),
    );
    page.html(status, "portal/account.html", ctx)
}

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
pub const FLASHES: [(&str, &str, &str); 11] = [
    ("registered", "success", "Thanks for registering. We sent you a link to confirm your email address; you can sign in once an administrator approves your account."),
    ("reset_sent", "success", "If an approved account uses this address, a link to set a new password is on its way."),
    ("password_reset", "success", "Your new password is set. Sign in with it."),
    ("invite_accepted", "success", "Your account is ready. Sign in with your new password."),
    ("password_changed", "success", "Your password is changed."),
    ("app_created", "success", "Application created."),
    ("app_deleted", "success", "Application deleted."),
    ("key_deleted", "success", "API key deleted."),
    ("subscribed", "success", "Subscribed."),
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

/// One request's view of its portal: the branding, the base path, the CSRF token of its
/// forms, and the cookies to set on the way out.
struct Page<'a> {
    portal: &'a Portal,
    req: &'a PageRequest,
    key: &'a [u8],
    base: String,
    csrf: String,
    set: Vec<String>,
    /// The "Sign in with …" links of the sign-in and register pages ([`sso_links`]).
    sso: Vec<Value>,
}

impl<'a> Page<'a> {
    fn new(portal: &'a Portal, req: &'a PageRequest, key: &'a [u8]) -> Self {
        Self { portal, req, key, base: web::portal_base(portal.id), csrf: String::new(), set: vec![], sso: vec![] }
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
            self.set.push(web::clear_cookie(web::FLASH_COOKIE, &self.base, self.loopback()));
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
            Ok(body) => PageResponse { status, headers, cookies: self.set, body: body.into_bytes() },
            Err(e) => {
                tracing::error!(error = %e, template, "a page failed to render");
                PageResponse {
                    status: 500,
                    headers,
                    cookies: self.set,
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
    // The sign-in and register pages list the portal's providers: one Query, alongside the portal.
    let with_sso = matches!(rest.as_str(), "login" | "register");
    let (portal, idps) = tokio::join!(store.get_portal(portal_id), async {
        if with_sso {
            store.list_idps(portal_id).await
        } else {
            Ok(vec![])
        }
    });
    let portal = match portal {
        Ok(Some(p)) => p,
        Ok(None) => return not_found_page(req),
        Err(e) => {
            tracing::error!(error = %crate::error::error_chain(&e), "reading the portal failed");
            let mut r = not_found_page(req);
            r.status = 503;
            return r;
        }
    };
    let mut page = Page::new(&portal, req, &config.token_secret);
    match idps {
        Ok(idps) => page.sso = sso_links(portal.id, &idps),
        // The password form still works without the links.
        Err(e) => tracing::error!(error = %crate::error::error_chain(&e), "listing the identity providers failed"),
    }
    let post = req.method == "POST";
    match (post, rest.as_str()) {
        (false, "") => page.redirect("login", None),
        (false, "login") => login(page, None, None).await,
        (true, "login") => login_post(store, config, page, now).await,
        (true, "logout") => logout(store, page, now).await,
        (false, "register") => register(page, None, None),
        (true, "register") => register_post(store, config, page, now).await,
        (false, "forgot-password") => forgot(page, None, None),
        (true, "forgot-password") => forgot_post(store, page, now).await,
        (false, "verify-email") => verify_email(store, page, now).await,
        (false, "reset-password") => link_page(page, "reset-password"),
        (true, "reset-password") => reset_post(store, page, now).await,
        (false, "invite") => link_page(page, "invite"),
        (true, "invite") => invite_post(store, page, now).await,
        (false, "change-password") | (true, "change-password") => change_password(store, page, post, now).await,
        (_, p) if p == "account" || p.starts_with("account/") => account(store, page, post, p, now).await,
        _ => page.message(404, "Page not found", "There is no page at this address.", Some(("Go to sign in", "login"))),
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

async fn login(mut page: Page<'_>, form: Option<&Form>, problem: Option<Problem>) -> PageResponse {
    page.pre_session();
    let status = problem.as_ref().map_or(200, Problem::status);
    let extra = login_extra(&page);
    let lead = format!("Welcome back to {}.", page.portal.name);
    page.form_page(status, "Sign in", Some(&lead), "login", "Sign in", &LOGIN, form, problem.as_ref(), extra, None)
}

async fn login_post<S: PageStore>(store: &S, config: &Config, page: Page<'_>, now: Timestamp) -> PageResponse {
    let form = page.req.form();
    if !page.pre_session_post_ok(&form) {
        return login(page, Some(&form), Some(Problem::Expired)).await;
    }
    let body = crate::sessions::LoginBody { login: form.get("login").to_string(), password: form.get("password").to_string() };
    match crate::sessions::login(store, config, page.portal.id, body, &page.req.client_ip, now).await {
        Ok(done) => {
            let loopback = page.loopback();
            let cookie = web::set_cookie(web::SESSION_COOKIE, &done.token, "/", Some(config.session_ttl_seconds), loopback);
            let to = if done.developer.must_change_password { "change-password" } else { "account" };
            page.redirect(to, None).cookie(cookie)
        }
        Err(e) => login(page, Some(&form), Some(Problem::App(e))).await,
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

async fn register_post<S: PageStore>(store: &S, config: &Config, page: Page<'_>, now: Timestamp) -> PageResponse {
    let form = page.req.form();
    if !page.pre_session_post_ok(&form) {
        return register(page, Some(&form), Some(Problem::Expired));
    }
    let body = crate::registration::RegisterBody {
        email: form.get("email").to_string(),
        password: form.get("password").to_string(),
        name: form.get("name").to_string(),
        username: form.optional("username"),
    };
    match crate::registration::register(store, config, page.portal.id, body, &page.req.client_ip, now).await {
        Ok(_) => page.redirect("login", Some("registered")),
        Err(e) => register(page, Some(&form), Some(Problem::App(e))),
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

async fn forgot_post<S: PageStore>(store: &S, page: Page<'_>, now: Timestamp) -> PageResponse {
    let form = page.req.form();
    if !page.pre_session_post_ok(&form) {
        return forgot(page, Some(&form), Some(Problem::Expired));
    }
    let body = crate::recovery::ResetRequest { email: form.get("email").to_string() };
    match crate::recovery::request_reset(store, page.portal.id, body, now).await {
        Ok(()) => page.redirect("login", Some("reset_sent")),
        Err(e) => forgot(page, Some(&form), Some(Problem::App(e))),
    }
}

/// A mailed link's first GET: the token moves into `gh_link` (scoped to the page) and the URL
/// loses it (303 to the same page).
fn take_link_token(page: &Page<'_>, name: &str) -> Option<PageResponse> {
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

async fn verify_email<S: PageStore>(store: &S, page: Page<'_>, now: Timestamp) -> PageResponse {
    if let Some(r) = take_link_token(&page, "verify-email") {
        return r;
    }
    let Some(token) = page.req.cookie(web::LINK_COOKIE).map(str::to_string) else {
        return page.message(
            400,
            "Open the link from your email",
            "This page confirms your email address from the link we sent you. Open that link again.",
            Some(("Go to sign in", "login")),
        );
    };
    let clear = web::clear_cookie(web::LINK_COOKIE, &page.url("verify-email"), page.loopback());
    match crate::recovery::verify_email(store, page.portal.id, crate::recovery::VerifyEmail { token }, now).await {
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
    if let Some(r) = take_link_token(&page, name) {
        return r;
    }
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

async fn reset_post<S: PageStore>(store: &S, page: Page<'_>, now: Timestamp) -> PageResponse {
    let form = page.req.form();
    if !page.pre_session_post_ok(&form) {
        return link_form(page, "reset-password", Some(&form), Some(Problem::Expired));
    }
    let Some(token) = page.req.cookie(web::LINK_COOKIE).map(str::to_string) else { return link_gone(page, "reset-password") };
    let body = crate::recovery::ResetConfirm { token, new_password: form.get("new_password").to_string() };
    match crate::recovery::confirm_reset(store, page.portal.id, body, now).await {
        Ok(()) => {
            let clear = web::clear_cookie(web::LINK_COOKIE, &page.url("reset-password"), page.loopback());
            page.redirect("login", Some("password_reset")).cookie(clear)
        }
        Err(e) if link_spent(&e) => link_gone(page, "reset-password"),
        Err(e) => link_form(page, "reset-password", Some(&form), Some(Problem::App(e))),
    }
}

async fn invite_post<S: PageStore>(store: &S, page: Page<'_>, now: Timestamp) -> PageResponse {
    let form = page.req.form();
    if !page.pre_session_post_ok(&form) {
        return link_form(page, "invite", Some(&form), Some(Problem::Expired));
    }
    let Some(token) = page.req.cookie(web::LINK_COOKIE).map(str::to_string) else { return link_gone(page, "invite") };
    let body = crate::invites::AcceptInvite {
        token,
        password: form.get("password").to_string(),
        name: form.get("name").to_string(),
        username: form.optional("username"),
    };
    match crate::invites::accept_invite(store, page.portal.id, body, now).await {
        Ok(_) => {
            let clear = web::clear_cookie(web::LINK_COOKIE, &page.url("invite"), page.loopback());
            page.redirect("login", Some("invite_accepted")).cookie(clear)
        }
        Err(e) if link_spent(&e) => link_gone(page, "invite"),
        Err(e) => link_form(page, "invite", Some(&form), Some(Problem::App(e))),
    }
}

// ------------------------------------------------------------------------------ signed in

/// The session of the request, or the answer that sends the browser to sign in.
async fn session<'a, S: PageStore>(store: &S, page: Page<'a>, now: Timestamp) -> Result<(Page<'a>, Authenticated, String), PageResponse> {
    let token = page.req.cookie(web::SESSION_COOKIE).map(str::to_string);
    match crate::sessions::authenticate(store, token.clone(), page.portal.id, now).await {
        Ok(auth) => {
            let mut page = page;
            let token = token.unwrap_or_default();
            page.signed_in(&token);
            Ok((page, auth, token))
        }
        Err(AppError::Unauthenticated(_)) => {
            let loopback = page.loopback();
            let mut r = page.redirect("login", Some("signed_in_elsewhere"));
            if token.is_some() {
                r.cookies.push(web::clear_cookie(web::SESSION_COOKIE, "/", loopback));
            }
            Err(r)
        }
        Err(e) => Err(error_page(page, &e)),
    }
}

async fn logout<S: PageStore>(store: &S, page: Page<'_>, now: Timestamp) -> PageResponse {
    let form = page.req.form();
    let loopback = page.loopback();
    let clear = web::clear_cookie(web::SESSION_COOKIE, "/", loopback);
    let token = page.req.cookie(web::SESSION_COOKIE).map(str::to_string);
    if let Ok(auth) = crate::sessions::authenticate(store, token.clone(), page.portal.id, now).await {
        if !page.session_post_ok(token.as_deref().unwrap_or_default(), &form) {
            return page.message(403, "This form expired", EXPIRED_FORM, Some(("Go to your account", "account")));
        }
        if let Err(e) = store.delete_session(auth.developer.id, &auth.session.token_hash).await {
            return error_page(page, &e.into());
        }
    }
    page.redirect("login", Some("signed_out")).cookie(clear)
}

async fn change_password<S: PageStore>(store: &S, page: Page<'_>, post: bool, now: Timestamp) -> PageResponse {
    let (page, auth, token) = match session(store, page, now).await {
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
        return show(page, &auth, None, None);
    }
    let form = page.req.form();
    if !page.session_post_ok(&token, &form) {
        return show(page, &auth, Some(&form), Some(Problem::Expired));
    }
    let body = crate::sessions::PasswordChange {
        current_password: form.get("current_password").to_string(),
        new_password: form.get("new_password").to_string(),
    };
    let dev = auth.developer.clone();
    let session = auth.session.clone();
    match crate::sessions::change_password(store, auth, body, &page.req.client_ip, now).await {
        Ok(()) => page.redirect("account", Some("password_changed")),
        Err(e) => show(page, &Authenticated { developer: dev, session }, Some(&form), Some(Problem::App(e))),
    }
}

/// What the account page shows beside the account itself.
#[derive(Default)]
struct AccountView<'f> {
    new_key: Option<(String, String)>,
    new_app_form: Option<&'f Form>,
    problem: Option<Problem>,
    /// The problem concerns the new-application form.
    problem_in_new_app: bool,
    notice: Option<&'static str>,
}

async fn account<S: PageStore>(store: &S, page: Page<'_>, post: bool, path: &str, now: Timestamp) -> PageResponse {
    let (page, auth, token) = match session(store, page, now).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if auth.developer.must_change_password {
        return page.redirect("change-password", None);
    }
    let action = path.strip_prefix("account").unwrap_or_default().trim_start_matches('/');
    if !post {
        return match action {
            "" => account_page(store, page, &auth, AccountView::default()).await,
            "delete-app" | "delete-key" => confirm_page(page, action),
            _ => page.message(404, "Page not found", "There is no page at this address.", Some(("Go to your account", "account"))),
        };
    }
    let form = page.req.form();
    if !page.session_post_ok(&token, &form) {
        let view = AccountView { problem: Some(Problem::Expired), ..Default::default() };
        return account_page(store, page, &auth, view).await;
    }
    let app_id = form.get("app_id").parse::<Uuid>();
    let done = match (action, app_id) {
        ("applications", _) => {
            let body =
                crate::applications::NewApplication { name: form.get("name").to_string(), description: form.optional("description") };
            match crate::applications::create_app(store, auth.clone_auth(), body, now).await {
                Ok(_) => Ok("app_created"),
                Err(e) => {
                    let view = AccountView {
                        new_app_form: Some(&form),
                        problem: Some(Problem::App(e)),
                        problem_in_new_app: true,
                        ..Default::default()
                    };
                    return account_page(store, page, &auth, view).await;
                }
            }
        }
        ("keys", Ok(app)) => {
            let nonce = form.get("nonce");
            if !nonce.is_empty() && page.req.cookie(web::KEY_NONCE_COOKIE) == Some(nonce) {
                let view = AccountView {
                    notice: Some("This key was already created and is shown only once. Create another key if you need one."),
                    ..Default::default()
                };
                return account_page(store, page, &auth, view).await;
            }
            match crate::applications::create_credential(store, &auth, app, now).await {
                Ok((_, key)) => {
                    let name = crate::applications::get_app(store, &auth, app).await.map(|a| a.name).unwrap_or_default();
                    let safe: String = nonce.chars().filter(char::is_ascii_alphanumeric).take(64).collect();
                    let cookie = web::set_cookie(web::KEY_NONCE_COOKIE, &safe, &page.base, Some(3600), page.loopback());
                    let view = AccountView { new_key: Some((name, key)), ..Default::default() };
                    return account_page(store, page, &auth, view).await.cookie(cookie);
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
            crate::applications::subscribe(store, &auth, app, body, now).await.map(|_| "subscribed")
        }
        (_, Err(_)) => Err(AppError::not_found("application")),
        _ => Err(AppError::not_found("page")),
    };
    match done {
        Ok(flash) => page.redirect("account", Some(flash)),
        Err(e) => account_page(store, page, &auth, AccountView { problem: Some(Problem::App(e)), ..Default::default() }).await,
    }
}

impl Authenticated {
    fn clone_auth(&self) -> Authenticated {
        Authenticated { developer: self.developer.clone(), session: self.session.clone() }
    }
}

fn confirm_page(mut page: Page<'_>, action: &str) -> PageResponse {
    let (title, text, name) = match action {
        "delete-app" => ("Delete this application?", "Its API keys stop working at once. This cannot be undone.", "app_id"),
        _ => ("Delete this API key?", "Anything using it stops working at once. This cannot be undone.", "key"),
    };
    let value = page.req.query(name).unwrap_or_default().to_string();
    let mut ctx = page.context(title, vec![]);
    let confirm = json!({
        "id": action, "title": title, "text": text, "confirm_label": "Delete", "action": page.url(&format!("account/{action}")),
        "fields": { name: value }, "cancel_href": page.url("account"),
    });
    ctx.insert("confirm".into(), confirm);
    ctx.insert("user".into(), json!({ "name": "", "sign_out_action": page.url("logout") }));
    page.html(200, "confirm.html", ctx)
}

async fn account_page<S: PageStore>(store: &S, mut page: Page<'_>, auth: &Authenticated, view: AccountView<'_>) -> PageResponse {
    let apps = match crate::applications::list_apps(store, auth).await {
        Ok(a) => a,
        Err(e) => return error_page(page, &e),
    };
    let keys = futures::future::join_all(apps.iter().map(|a| crate::applications::list_credentials(store, auth, a.id))).await;
    let (app_errors, mut errors) = match (&view.problem, view.problem_in_new_app) {
        (Some(p), true) => form_errors(&NEW_APP, Some(p)),
        (Some(p), false) => form_errors(&[], Some(p)),
        (None, _) => (vec![], vec![]),
    };
    let status = view.problem.as_ref().map_or(200, Problem::status);
    if view.problem_in_new_app {
        // The summary links to the new-application form's fields.
        for e in &mut errors {
            if let Some(f) = e.get("field").and_then(Value::as_str).map(str::to_string) {
                e["target"] = format!("f-app-{f}").into();
            }
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
    let mut rows = Vec::new();
    for (i, (app, creds)) in apps.iter().zip(keys).enumerate() {
        let creds = creds.unwrap_or_default();
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
        let mut app_json = json!({
            "id": app.id, "name": app.name, "products": app.products,
            "keys": { "id": format!("keys-{}", i + 1), "caption": format!("API keys of {}", app.name),
                      "columns": [{ "key": "key", "label": "Key", "mono": true }, { "key": "created", "label": "Created" }],
                      "rows": key_rows, "empty": "No API keys yet." },
            "key_action": page.url("account/keys"), "key_nonce": nonce,
            "subscribe_action": page.url("account/subscribe"),
            "product_field": { "name": "product", "id": format!("f-product-{}", i + 1), "label": format!("API product for {}", app.name),
                               "hint": "Letters, digits, '-', '_' or '.', as the API's documentation names it.", "autocomplete": "off" },
        });
        if let Some(desc) = &app.description {
            app_json["description"] = desc.clone().into();
        }
        rows.push(app_json);
    }
    ctx.insert("apps".into(), Value::Array(rows));
    ctx.insert(
        "create_app".into(),
        json!({ "action": page.url("account/applications"), "fields": fields(&NEW_APP, view.new_app_form, &app_errors, "") }),
    );
    if let Some(Value::Array(fs)) = ctx.get_mut("create_app").and_then(|c| c.get_mut("fields")) {
        for f in fs {
            let id = format!("f-app-{}", f["name"].as_str().unwrap_or_default());
            f["id"] = id.into();
        }
    }
    if let Some((app_name, key)) = view.new_key {
        ctx.insert("new_key".into(), json!({ "app_name": app_name, "key": key }));
    }
    let dialog = |id: &str, title: &str, text: &str, action: String| json!({ "id": id, "title": title, "text": text, "confirm_label": "Delete", "action": action });
    ctx.insert(
        "delete_app".into(),
        dialog(
            "delete-app",
            "Delete this application?",
            "Its API keys stop working at once. This cannot be undone.",
            page.url("account/delete-app"),
        ),
    );
    ctx.insert(
        "delete_key".into(),
        dialog("delete-key", "Delete this API key?", "Anything using it stops working at once. This cannot be undone.", delete_key_action),
    );
    page.html(status, "portal/account.html", ctx)
}

//! The developer pages over the in-memory ports: sign-in sets the session cookie, the account
//! page renders, forms without their token change nothing, a created key is shown once.

use crate::domain::*;
use crate::fakes::{self, MemStore};
use crate::pages::web::{self, PageRequest};
use crate::pages::{handle, PageResponse};

const PASSWORD: &str = "correct horse battery staple";
const HOST: &str = "127.0.0.1:9000";

fn hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| crate::crypto::hash_password_blocking(PASSWORD).unwrap())
}

fn world() -> (MemStore, Portal) {
    let store = MemStore::default();
    let portal = fakes::portal(PortalSettings { brand_color: Some("#0f766e".into()), ..Default::default() });
    let mut jane = fakes::developer(&portal, Origin::Registered, Some("jane@example.com"), Some("jane"), DeveloperState::Approved, hash());
    jane.email_verified = true;
    store.add_portal(portal.clone());
    store.add_developer(jane);
    (store, portal)
}

/// A browser: its cookies, applied from each answer's `Set-Cookie`.
#[derive(Default)]
struct Browser(Vec<(String, String)>);

impl Browser {
    fn keep(&mut self, r: &PageResponse) {
        for c in &r.cookies {
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.0.retain(|(n, _)| n != name);
            if !attrs.contains("Max-Age=0") {
                self.0.push((name.into(), value.into()));
            }
        }
    }

    async fn send(&mut self, store: &MemStore, method: &str, path: &str, form: &[(&str, &str)]) -> PageResponse {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish().into_bytes();
        let req = PageRequest {
            method: method.into(),
            path: path.into(),
            cookies: self.0.clone(),
            host: HOST.into(),
            origin: (method == "POST").then(|| "null".into()),
            sec_fetch_site: Some("same-origin".into()),
            content_type: Some("application/x-www-form-urlencoded".into()),
            body,
            client_ip: "198.51.100.7".into(),
            ..Default::default()
        };
        let r = handle(store, &fakes::config(), &req, chrono::Utc::now()).await;
        self.keep(&r);
        r
    }
}

fn text(r: &PageResponse) -> String {
    String::from_utf8(r.body.clone()).unwrap()
}

fn csrf(r: &PageResponse) -> String {
    let html = text(r);
    let at = html.find("name=\"csrf_token\" value=\"").expect("a CSRF field") + 25;
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn signing_in_sets_the_session_cookie_and_the_account_manages_applications_and_keys() {
    let (store, portal) = world();
    let base = web::portal_base(portal.id);
    let mut b = Browser::default();
    let login = b.send(&store, "GET", &format!("{base}login"), &[]).await;
    assert_eq!(login.status, 200);
    assert!(login.cookies.iter().any(|c| c.starts_with("gh_csrf=")), "a pre-session cookie");
    assert!(text(&login).contains("/static/brand/0f766e.css"), "the brand stylesheet");
    let token = csrf(&login);

    let refused = b.send(&store, "POST", &format!("{base}login"), &[("login", "jane"), ("password", PASSWORD)]).await;
    assert_eq!(refused.status, 403, "no token");
    assert!(text(&refused).contains("This form expired"));
    assert!(!b.0.iter().any(|(n, _)| n == web::SESSION_COOKIE));

    let wrong =
        b.send(&store, "POST", &format!("{base}login"), &[("csrf_token", &token), ("login", "jane"), ("password", "nope nope nope")]).await;
    assert_eq!(wrong.status, 401);
    assert!(text(&wrong).contains("Wrong email, username or password"));

    let done = b.send(&store, "POST", &format!("{base}login"), &[("csrf_token", &token), ("login", "jane"), ("password", PASSWORD)]).await;
    assert_eq!(done.status, 303);
    assert_eq!(done.header("Location"), Some(format!("{base}account").as_str()));
    let cookie = done.cookies.iter().find(|c| c.starts_with("gatehouse_session=ghs_")).expect("the session cookie");
    assert!(cookie.contains("Path=/; HttpOnly; SameSite=Lax") && !cookie.contains("Secure"), "{cookie}");

    let account = b.send(&store, "GET", &format!("{base}account"), &[]).await;
    assert_eq!(account.status, 200, "{}", text(&account));
    assert!(account.body.len() < 30 * 1024);
    let token = csrf(&account);
    let forged = b.send(&store, "POST", &format!("{base}account/applications"), &[("name", "Forged")]).await;
    assert_eq!(forged.status, 403);
    let created = b.send(&store, "POST", &format!("{base}account/applications"), &[("csrf_token", &token), ("name", "Weather")]).await;
    assert_eq!(created.status, 303);
    let account = b.send(&store, "GET", &format!("{base}account"), &[]).await;
    let html = text(&account);
    assert!(html.contains("Application created.") && html.contains("Weather") && !html.contains("Forged"));
    let app = html.split("name=\"app_id\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let nonce = html.split("name=\"nonce\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let form = [("csrf_token", token.as_str()), ("app_id", app.as_str()), ("nonce", nonce.as_str())];
    let key = b.send(&store, "POST", &format!("{base}account/keys"), &form).await;
    assert_eq!(key.status, 200);
    assert!(text(&key).contains("id=\"new-key\">ghk_"), "the key, shown once");
    let again = b.send(&store, "POST", &format!("{base}account/keys"), &form).await;
    assert!(
        !text(&again).contains("id=\"new-key\">ghk_") && text(&again).contains("already created"),
        "a re-sent form shows no second key"
    );

    let out = b.send(&store, "POST", &format!("{base}logout"), &[("csrf_token", &token)]).await;
    assert_eq!(out.status, 303);
    let after = b.send(&store, "GET", &format!("{base}account"), &[]).await;
    assert_eq!(after.status, 303, "signed out");
}

#[tokio::test]
async fn a_links_token_leaves_the_url_and_unknown_portals_and_pages_are_404() {
    let (store, portal) = world();
    let base = web::portal_base(portal.id);
    let mut b = Browser::default();
    let moved = b.send(&store, "GET", &format!("{base}reset-password"), &[]).await;
    assert_eq!(moved.status, 400, "without the link");
    let req = PageRequest {
        method: "GET".into(),
        path: format!("{base}reset-password"),
        host: HOST.into(),
        query: vec![("token".into(), "ghr_abc".into())],
        ..Default::default()
    };
    let r = handle(&store, &fakes::config(), &req, chrono::Utc::now()).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("Location"), Some(format!("{base}reset-password").as_str()));
    assert!(r.cookies[0].starts_with("gh_link=ghr_abc; Path=/portal/") && r.cookies[0].contains("Max-Age=900"));
    for path in
        [format!("/portal/{}/login", uuid::Uuid::nil()), "/portal/nope/login".into(), format!("{base}nowhere"), "/static/x.css".into()]
    {
        assert_eq!(b.send(&store, "GET", &path, &[]).await.status, 404, "{path}");
    }
}

fn idp(portal: &Portal, display_name: &str, enabled: bool) -> IdentityProvider {
    let now = chrono::Utc::now();
    IdentityProvider {
        id: uuid::Uuid::new_v4(),
        portal_id: portal.id,
        enabled,
        display_name: display_name.into(),
        issuer_url: "https://login.acme.com".into(),
        client_id: "gatehouse".into(),
        client_secret_sealed: "SEALED-SECRET".into(),
        scopes: vec!["openid".into(), "email".into()],
        claim_mappings: ClaimMappings::default(),
        auto_approve: false,
        team_mappings: vec![],
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

#[tokio::test]
async fn the_sign_in_and_register_pages_link_each_enabled_provider_to_its_start_and_show_no_secret() {
    use crate::store::IdpStore;
    let (store, portal) = world();
    let mut browser = Browser::default();
    let plain = text(&browser.send(&store, "GET", &format!("/portal/{}/login", portal.id), &[]).await);
    assert!(!plain.contains("Sign in with"), "no provider, no link");

    let acme = idp(&portal, "Acme SSO", true);
    store.create_idp(&acme).await.unwrap();
    store.create_idp(&idp(&portal, "Retired IdP", false)).await.unwrap();
    let other = fakes::portal(PortalSettings::default());
    store.add_portal(other.clone());
    store.create_idp(&idp(&other, "Other portal IdP", true)).await.unwrap();

    let href = format!("/api/portals/{}/sso/{}/start?return_to=/portal/{}/account", portal.id, acme.id, portal.id);
    for page in ["login", "register"] {
        let html = text(&browser.send(&store, "GET", &format!("/portal/{}/{page}", portal.id), &[]).await).replace("&#x2f;", "/");
        assert_eq!(html.matches("Sign in with").count(), 1, "{page}: one link, the enabled provider's");
        assert!(html.contains(&format!("href=\"{href}\">Sign in with Acme SSO</a>")), "{page}: {html}");
        for absent in ["Retired IdP", "Other portal IdP", "SEALED-SECRET", "login.acme.com", "gatehouse\""] {
            assert!(!html.contains(absent), "{page} shows {absent}");
        }
    }
    // A refused sign-in renders the form again, links included.
    let login = browser.send(&store, "GET", &format!("/portal/{}/login", portal.id), &[]).await;
    let token = csrf(&login);
    let refused = browser
        .send(
            &store,
            "POST",
            &format!("/portal/{}/login", portal.id),
            &[("csrf_token", &token), ("login", "jane"), ("password", "wrong password!")],
        )
        .await;
    assert_eq!(refused.status, 401);
    assert!(text(&refused).contains("Sign in with Acme SSO"));
    // Other pages do not read the providers.
    let forgot = text(&browser.send(&store, "GET", &format!("/portal/{}/forgot-password", portal.id), &[]).await);
    assert!(!forgot.contains("Sign in with"));
}

/// The calls a request made, without the ones before it.
/// Jane signed in on her account page, with applications of these names.
struct SignedIn {
    store: MemStore,
    base: String,
    b: Browser,
    /// The account page's CSRF token.
    token: String,
}

async fn signed_in_with_apps(apps: &[&str]) -> SignedIn {
    let (store, portal) = world();
    let base = web::portal_base(portal.id);
    let mut b = Browser::default();
    let token = csrf(&b.send(&store, "GET", &format!("{base}login"), &[]).await);
    let r = b.send(&store, "POST", &format!("{base}login"), &[("csrf_token", &token), ("login", "jane"), ("password", PASSWORD)]).await;
    assert_eq!(r.status, 303, "signed in");
    let token = csrf(&b.send(&store, "GET", &format!("{base}account"), &[]).await);
    for name in apps {
        let r = b.send(&store, "POST", &format!("{base}account/applications"), &[("csrf_token", &token), ("name", name)]).await;
        assert_eq!(r.status, 303, "{name} created");
    }
    SignedIn { store, base, b, token }
}

async fn calls_of(store: &MemStore, b: &mut Browser, method: &str, path: &str, form: &[(&str, &str)]) -> (PageResponse, Vec<String>) {
    store.take_calls();
    let r = b.send(store, method, path, form).await;
    (r, store.take_calls())
}

#[tokio::test]
async fn a_page_post_that_succeeds_makes_exactly_the_calls_of_the_json_use_case_it_wraps() {
    let config = fakes::config();
    let now = chrono::Utc::now();
    // Registration: the page, then the use case itself on a world of its own.
    let (store, portal) = world();
    let base = web::portal_base(portal.id);
    let mut b = Browser::default();
    let token = csrf(&b.send(&store, "GET", &format!("{base}register"), &[]).await);
    let form = [("csrf_token", token.as_str()), ("name", "Ada Lovelace"), ("email", "ada@example.com"), ("password", PASSWORD)];
    let (r, page_calls) = calls_of(&store, &mut b, "POST", &format!("{base}register"), &form).await;
    assert_eq!(r.status, 303, "{}", text(&r));
    let (direct, portal2) = world();
    let mut direct = direct;
    let _ = &mut direct;
    let body = crate::registration::RegisterBody {
        email: "ada@example.com".into(),
        password: PASSWORD.into(),
        name: "Ada Lovelace".into(),
        username: None,
    };
    direct.take_calls();
    crate::registration::register(&direct, &config, portal2.id, body, "198.51.100.7", now).await.unwrap();
    assert_eq!(page_calls, direct.take_calls(), "registration");
    assert_eq!(page_calls.iter().filter(|c| *c == "get portal").count(), 1, "{page_calls:?}");

    // Sign-in.
    let token = csrf(&b.send(&store, "GET", &format!("{base}login"), &[]).await);
    let (r, page_calls) =
        calls_of(&store, &mut b, "POST", &format!("{base}login"), &[("csrf_token", &token), ("login", "jane"), ("password", PASSWORD)])
            .await;
    assert_eq!(r.status, 303);
    let body = crate::sessions::LoginBody { login: "jane".into(), password: PASSWORD.into() };
    direct.take_calls();
    crate::sessions::login(&direct, &config, portal2.id, body, "198.51.100.7", now).await.unwrap();
    assert_eq!(page_calls, direct.take_calls(), "sign-in");
}

#[tokio::test]
async fn the_account_page_reads_the_portal_beside_the_applications_and_no_application_twice() {
    let SignedIn { store, base, mut b, token: _ } = signed_in_with_apps(&["Weather", "Tides"]).await;
    let (r, calls) = calls_of(&store, &mut b, "GET", &format!("{base}account"), &[]).await;
    assert_eq!(r.status, 200);
    let mut sorted = calls.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["get portal", "get session and developer", "list apps", "list credentials", "list credentials"],
        "one read of the portal and none of an application by id: {calls:?}"
    );
    assert_eq!(calls[0], "get session and developer", "the session comes first");
}

#[tokio::test]
async fn a_refused_subscription_stands_next_to_its_applications_product_field_and_unsubscribing_removes_it() {
    let SignedIn { store, base, mut b, token } = signed_in_with_apps(&["Weather", "Tides"]).await;
    let html = text(&b.send(&store, "GET", &format!("{base}account"), &[]).await);
    let apps: Vec<String> = html.split("name=\"app_id\" value=\"").skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect();
    let second = apps.iter().rev().find(|a| **a != apps[0]).unwrap().clone();
    let field = if html.find(&apps[0]).unwrap() < html.find(&second).unwrap() { "f-product-2" } else { "f-product-1" };

    let bad = b
        .send(
            &store,
            "POST",
            &format!("{base}account/subscribe"),
            &[("csrf_token", &token), ("app_id", &second), ("product", "no spaces!")],
        )
        .await;
    assert_eq!(bad.status, 400);
    let html = text(&bad);
    assert!(html.contains(&format!("id=\"{field}\" name=\"product\" aria-describedby=\"{field}-error")), "{html}");
    assert!(html.contains(&format!("href=\"#{field}\"")), "the summary links to the field");
    assert!(html.contains("value=\"no spaces!\""), "the value entered is kept");
    assert_eq!(html.matches("aria-invalid=\"true\"").count(), 1, "only that application's field");

    let form = [("csrf_token", token.as_str()), ("app_id", second.as_str()), ("product", "weather-api")];
    assert_eq!(b.send(&store, "POST", &format!("{base}account/subscribe"), &form).await.status, 303);
    let twice = text(&b.send(&store, "POST", &format!("{base}account/subscribe"), &form).await);
    assert!(twice.contains(&format!("{field}-error")) && twice.contains("already subscribed"), "{twice}");

    let html = text(&b.send(&store, "GET", &format!("{base}account"), &[]).await);
    assert!(html.contains("Unsubscribe Tides from weather-api") || html.contains("Unsubscribe Weather from weather-api"));
    let out = b.send(&store, "POST", &format!("{base}account/unsubscribe"), &form).await;
    assert_eq!(out.status, 303);
    let html = text(&b.send(&store, "GET", &format!("{base}account"), &[]).await);
    assert!(html.contains("Unsubscribed.") && !html.contains("from weather-api"), "{html}");
}

#[test]
fn the_pages_that_set_a_password_are_one_set_and_every_other_page_the_other() {
    use crate::pages::Pages;
    for (method, page) in
        [("POST", "register"), ("POST", "reset-password"), ("POST", "invite"), ("GET", "change-password"), ("POST", "change-password")]
    {
        assert_eq!(Pages::of(method, page), Pages::Passwords, "{method} {page}");
    }
    for (method, page) in [
        ("GET", "register"),
        ("GET", "reset-password"),
        ("GET", "invite"),
        ("POST", "login"),
        ("GET", "account"),
        ("POST", "account/applications"),
        ("POST", "forgot-password"),
        ("GET", "verify-email"),
    ] {
        assert_eq!(Pages::of(method, page), Pages::Main, "{method} {page}");
    }
}

#[tokio::test]
async fn each_function_of_pages_answers_only_its_own_pages_and_404_for_the_others() {
    use crate::pages::{handle_main, handle_passwords};
    let (store, portal) = world();
    let base = format!("/portal/{}", portal.id);
    let req = |method: &str, page: &str| PageRequest {
        method: method.into(),
        path: format!("{base}/{page}"),
        host: HOST.into(),
        client_ip: "198.51.100.7".into(),
        ..Default::default()
    };
    let now = chrono::Utc::now();
    let config = fakes::config();
    // The password function: a page of the other set is not there (API Gateway never routes it).
    assert_eq!(handle_passwords(&store, &config, &req("GET", "login"), now).await.status, 404);
    assert_eq!(handle_passwords(&store, &config, &req("GET", "register"), now).await.status, 404);
    assert_eq!(handle_passwords(&store, &config, &PageRequest { path: "/static/x.css".into(), ..req("GET", "") }, now).await.status, 404);
    // Its own pages: change-password without a session sends the browser to sign in.
    let r = handle_passwords(&store, &config, &req("GET", "change-password"), now).await;
    assert_eq!(r.status, 303);
    // The main function renders the register page but does not take its POST.
    assert_eq!(handle_main(&store, &config, &req("GET", "register"), now).await.status, 200);
    assert_eq!(handle_main(&store, &config, &req("POST", "register"), now).await.status, 404);
    assert_eq!(handle_main(&store, &config, &req("GET", "change-password"), now).await.status, 404);
}

//! The pure parts of the pages' HTTP edge: the request as the pages see it, form bodies,
//! cookies (attributes, reading), CSRF tokens (signed per session, or a signed double submit
//! before sign-in), the same-origin checks of a POST, the headers of every page, and redirect
//! targets. No I/O: `shared/templates/pages/README.md` is the rule these implement.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The developer session cookie: the same token the JSON login returns.
pub const SESSION_COOKIE: &str = "gatehouse_session";
/// The pre-session CSRF cookie (128 random bits) of the signed-out forms.
pub const CSRF_COOKIE: &str = "gh_csrf";
/// A one-time message key after a redirect (`Max-Age=60`).
pub const FLASH_COOKIE: &str = "gh_flash";
/// A token that arrived in a mailed link, moved out of the URL (`Max-Age=900`).
pub const LINK_COOKIE: &str = "gh_link";
/// The nonce of the last API key created in this browser (a re-sent form shows no second key).
pub const KEY_NONCE_COOKIE: &str = "gh_key_nonce";

/// What a page handler needs of a request, already read from the Lambda event.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// `(name, value)` of the `Cookie` header(s).
    pub cookies: Vec<(String, String)>,
    pub host: String,
    pub origin: Option<String>,
    pub sec_fetch_site: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub client_ip: String,
}

impl PageRequest {
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Whether the deployment is reached on loopback (local stacks): no `Secure`, no HSTS.
    pub fn loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }

    /// The deployment's own origin, as the browser names it in `Origin`.
    pub fn own_origin(&self) -> String {
        let scheme = if self.loopback() { "http" } else { "https" };
        format!("{scheme}://{}", self.host)
    }

    /// The form body (`application/x-www-form-urlencoded`); anything else reads as empty.
    pub fn form(&self) -> Form {
        let urlencoded = self
            .content_type
            .as_deref()
            .is_some_and(|ct| ct.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if !urlencoded || self.body.len() > crate::http::MAX_BODY_BYTES {
            return Form::default();
        }
        Form::parse(&self.body)
    }
}

/// `127.0.0.1`, `localhost` or `[::1]`, with or without a port.
pub fn is_loopback_host(host: &str) -> bool {
    let name = if host.starts_with('[') {
        host.split(']').next().map(|h| &h[1..]).unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    matches!(name.to_ascii_lowercase().as_str(), "localhost" | "::1") || name.parse::<std::net::Ipv4Addr>().is_ok_and(|a| a.is_loopback())
}

/// The `Cookie` header's pairs (`a=1; b=2`), in order.
pub fn parse_cookies(header: &str) -> Vec<(String, String)> {
    header
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .map(|(n, v)| (n.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .filter(|(n, _)| !n.is_empty())
        .collect()
}

/// A decoded form body: every field once, the first value kept.
#[derive(Debug, Clone, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    /// The field's value ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// Every value of a repeated field (the selected rows of a bulk form), in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// The field's value, `None` when absent or blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        Some(self.get(name).trim().to_string()).filter(|v| !v.is_empty())
    }
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Lax; Path=...`, plus `Secure` off loopback;
/// `max_age` of `Some(0)` deletes it.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: Option<i64>, loopback: bool) -> String {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if !loopback {
        c.push_str("; Secure");
    }
    c
}

/// The deletion of a cookie set with [`set_cookie`].
pub fn clear_cookie(name: &str, path: &str, loopback: bool) -> String {
    set_cookie(name, "", path, Some(0), loopback)
}

fn sign(key: &[u8], message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The CSRF token of a signed-in browser: base64url(HMAC-SHA256(key, "csrf:" + session token)).
pub fn session_csrf(key: &[u8], session_token: &str) -> String {
    sign(key, &format!("csrf:{session_token}"))
}

/// The CSRF token of the signed-out forms: the HMAC of the `gh_csrf` cookie's value.
pub fn pre_session_csrf(key: &[u8], cookie: &str) -> String {
    sign(key, &format!("csrf-pre:{cookie}"))
}

/// A fresh `gh_csrf` value: 128 random bits.
pub fn new_csrf_cookie() -> String {
    let bytes: [u8; 16] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Why a POST is refused before anything is read: it comes from another site. `Origin: null`
/// tells nothing (Chromium sends it for every form of a `Referrer-Policy: no-referrer` page),
/// so `Sec-Fetch-Site` and the token decide then.
pub fn cross_site(req: &PageRequest) -> bool {
    let fetch_site = req.sec_fetch_site.as_deref().is_some_and(|s| !matches!(s, "same-origin" | "none"));
    let origin = req.origin.as_deref().is_some_and(|o| o != "null" && !o.eq_ignore_ascii_case(&req.own_origin()));
    fetch_site || origin
}

/// Whether the posted `csrf_token` is the expected one (constant time).
pub fn csrf_ok(expected: &str, posted: &str) -> bool {
    !posted.is_empty() && crate::crypto::constant_time_eq(expected, posted)
}

/// The pages' Content-Security-Policy; `logo_origin` is a portal logo's origin.
pub fn content_security_policy(logo_origin: Option<&str>) -> String {
    let img = match logo_origin {
        Some(o) => format!("img-src 'self' {o}"),
        None => "img-src 'self'".to_string(),
    };
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        &img,
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ]
    .join("; ")
}

/// The headers of every HTML page (README.md, "Headers of every page").
pub fn page_headers(logo_origin: Option<&str>, loopback: bool) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("Content-Type", "text/html; charset=utf-8".to_string()),
        ("Content-Security-Policy", content_security_policy(logo_origin)),
        ("X-Frame-Options", "DENY".to_string()),
        ("X-Content-Type-Options", "nosniff".to_string()),
        ("Referrer-Policy", "no-referrer".to_string()),
        ("Cross-Origin-Opener-Policy", "same-origin".to_string()),
        ("Cache-Control", "no-store".to_string()),
    ];
    if !loopback {
        h.push(("Strict-Transport-Security", "max-age=31536000".to_string()));
    }
    h
}

/// The origin (`scheme://host[:port]`) of an absolute `http(s)` URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next().filter(|h| !h.is_empty())?;
    matches!(scheme, "http" | "https").then(|| format!("{scheme}://{host}"))
}

/// The base path of a portal's pages, `/portal/{id}/`.
pub fn portal_base(portal_id: uuid::Uuid) -> String {
    format!("/portal/{portal_id}/")
}

/// Where a redirect may lead: only a path of this portal's pages (`next` from a form or a
/// query), else the account page. Refuses other portals, other origins (`//host`, `\\`) and
/// anything with a scheme.
pub fn redirect_target(portal_id: uuid::Uuid, next: Option<&str>) -> String {
    let base = portal_base(portal_id);
    match next {
        Some(n) if n.starts_with(&base) && !n.contains("//") && !n.contains('\\') && !n.contains("..") && n.is_ascii() => n.to_string(),
        _ => format!("{base}account"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(host: &str) -> PageRequest {
        PageRequest { host: host.into(), method: "POST".into(), ..Default::default() }
    }

    #[test]
    fn cookies_are_http_only_same_site_lax_and_secure_everywhere_but_loopback() {
        let deployed = set_cookie(SESSION_COOKIE, "ghs_x", "/", None, false);
        assert_eq!(deployed, "gatehouse_session=ghs_x; Path=/; HttpOnly; SameSite=Lax; Secure");
        let local = set_cookie(FLASH_COOKIE, "verified", "/portal/p/", Some(60), true);
        assert_eq!(local, "gh_flash=verified; Path=/portal/p/; HttpOnly; SameSite=Lax; Max-Age=60");
        assert!(clear_cookie(LINK_COOKIE, "/portal/p/reset-password", false).contains("Max-Age=0; Secure"));
    }

    #[test]
    fn loopback_is_127_localhost_and_ipv6_one_with_or_without_a_port() {
        for host in ["127.0.0.1:9000", "localhost", "LOCALHOST:80", "[::1]:9000", "127.1.2.3"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["abc.execute-api.eu-west-1.amazonaws.com", "127.0.0.1.nip.io", "localhost.example.com", ""] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn the_cookie_header_is_read_pair_by_pair() {
        let c = parse_cookies("gh_csrf=abc; gatehouse_session=ghs_1=2 ; empty=");
        assert_eq!(c, [("gh_csrf".into(), "abc".into()), ("gatehouse_session".into(), "ghs_1=2".into()), ("empty".into(), "".into())]);
        let r = PageRequest { cookies: c, ..Default::default() };
        assert_eq!(r.cookie("gatehouse_session"), Some("ghs_1=2"));
        assert_eq!(r.cookie("empty"), None, "an empty cookie is no cookie");
    }

    #[test]
    fn a_form_body_is_decoded_and_only_when_it_says_it_is_a_form() {
        let mut r = req("127.0.0.1:9000");
        r.body = b"login=ada%40example.com&password=a+b%26c&login=second".to_vec();
        assert_eq!(r.form().get("login"), "", "no content type: not a form");
        r.content_type = Some("application/x-www-form-urlencoded; charset=UTF-8".into());
        let f = r.form();
        assert_eq!(f.get("login"), "ada@example.com", "the first value wins");
        assert_eq!(f.get("password"), "a b&c");
        assert_eq!(f.get("missing"), "");
        assert_eq!(f.optional("missing"), None);
    }

    #[test]
    fn csrf_tokens_are_bound_to_the_session_or_the_pre_session_cookie_and_the_key() {
        let a = session_csrf(b"key", "ghs_one");
        assert_eq!(a, session_csrf(b"key", "ghs_one"));
        assert_ne!(a, session_csrf(b"key", "ghs_two"));
        assert_ne!(a, session_csrf(b"other", "ghs_one"));
        assert_ne!(pre_session_csrf(b"key", "ghs_one"), a, "the two kinds never coincide");
        assert!(csrf_ok(&a, &a));
        assert!(!csrf_ok(&a, ""));
        assert!(!csrf_ok(&a, &pre_session_csrf(b"key", "c")));
        assert_ne!(new_csrf_cookie(), new_csrf_cookie());
        assert_eq!(new_csrf_cookie().len(), 22, "128 bits in base64url");
    }

    #[test]
    fn a_post_from_another_site_is_cross_site_and_one_from_the_page_is_not() {
        let mut r = req("127.0.0.1:9000");
        assert!(!cross_site(&r), "no Origin, no Sec-Fetch-Site (an old browser, curl)");
        r.origin = Some("http://127.0.0.1:9000".into());
        r.sec_fetch_site = Some("same-origin".into());
        assert!(!cross_site(&r));
        r.sec_fetch_site = Some("cross-site".into());
        assert!(cross_site(&r));
        r.sec_fetch_site = Some("same-site".into());
        assert!(cross_site(&r), "a sibling subdomain is another site's page");
        r.sec_fetch_site = None;
        r.origin = Some("https://evil.example".into());
        assert!(cross_site(&r));
        r.origin = Some("null".into());
        assert!(!cross_site(&r), "a no-referrer page's own form");
        r.sec_fetch_site = Some("cross-site".into());
        assert!(cross_site(&r));
        r.sec_fetch_site = None;
        let mut d = req("api.example.com");
        d.origin = Some("https://api.example.com".into());
        assert!(!cross_site(&d));
        d.origin = Some("http://api.example.com".into());
        assert!(cross_site(&d), "deployed pages are https only");
    }

    #[test]
    fn every_page_forbids_framing_inline_script_and_caching_and_only_the_logo_origin_varies() {
        let csp = content_security_policy(None);
        assert_eq!(
            csp,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; require-trusted-types-for 'script'; trusted-types 'none'"
        );
        assert!(!csp.contains("unsafe"));
        assert!(content_security_policy(Some("https://cdn.acme.example")).contains("img-src 'self' https://cdn.acme.example;"));
        let h = page_headers(None, false);
        let get = |n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("X-Frame-Options"), Some("DENY"));
        assert_eq!(get("Cache-Control"), Some("no-store"));
        assert_eq!(get("Strict-Transport-Security"), Some("max-age=31536000"));
        assert!(page_headers(None, true).iter().all(|(k, _)| *k != "Strict-Transport-Security"), "no HSTS on loopback");
    }

    #[test]
    fn the_origin_of_a_logo_url_is_its_scheme_and_host() {
        assert_eq!(origin_of("https://cdn.acme.example/logo.svg?v=1").as_deref(), Some("https://cdn.acme.example"));
        assert_eq!(origin_of("http://127.0.0.1:9001/l.png").as_deref(), Some("http://127.0.0.1:9001"));
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("ftp://x/y"), None);
    }

    #[test]
    fn redirects_lead_only_to_this_portals_pages() {
        let p = uuid::Uuid::nil();
        let account = format!("/portal/{p}/account");
        assert_eq!(redirect_target(p, Some(&format!("/portal/{p}/change-password"))), format!("/portal/{p}/change-password"));
        for bad in ["https://evil.example/", "//evil.example/", "/portal/other/account", "/\\evil.example", "", "/api/x"] {
            assert_eq!(redirect_target(p, Some(bad)), account, "{bad}");
        }
        assert_eq!(redirect_target(p, Some(&format!("/portal/{p}//evil.example"))), account);
        assert_eq!(redirect_target(p, Some(&format!("/portal/{p}/../other"))), account);
        assert_eq!(redirect_target(p, None), account);
    }
}

//! The HTTP edge shared by every API function: JSON bodies in (size, type, unknown fields),
//! RFC 9457 problems out, admin authentication, and a runner that turns panics into 500s.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures::FutureExt;
use lambda_http::http::header::{HeaderValue, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use crate::crypto::token_hash;
use crate::error::{error_chain, AppError};
use crate::store::{AdminToken, AdminTokenStore};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What an HTTP function can answer besides a response: a core error, or a refusal only the
/// edge knows (the body's size, type or syntax, a method the path does not take).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Core(#[from] AppError),
    #[error("{0}")]
    BadRequest(String),
    /// A known path asked with a method none of its routes answers (405 with `Allow`).
    #[error("{method} is not allowed here; use {}", allow.join(", "))]
    MethodNotAllowed { method: String, allow: Vec<&'static str> },
    #[error("the request body is larger than 64 KiB")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
}

impl From<crate::store::StoreError> for HttpError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Core(e.into())
    }
}

pub type HttpResult = Result<Response<Body>, HttpError>;

/// The HTTP status of each core error kind: the only place statuses are decided.
pub fn status_of(e: &AppError) -> u16 {
    match e {
        AppError::Invalid(_) => 400,
        AppError::NoAdminToken | AppError::Unauthenticated(_) => 401,
        AppError::Forbidden(_) => 403,
        AppError::NotFound { .. } => 404,
        AppError::Conflict(_) => 409,
        AppError::Gone(_) => 410,
        AppError::Limited { .. } => 429,
        AppError::Internal(_) => 500,
        AppError::Unavailable(_) => 503,
    }
}

impl HttpError {
    /// The HTTP status of each kind (core kinds: [`status_of`]).
    pub fn status(&self) -> u16 {
        match self {
            Self::Core(e) => status_of(e),
            Self::BadRequest(_) => 400,
            Self::MethodNotAllowed { .. } => 405,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType(_) => 415,
        }
    }

    fn slug(&self) -> (&'static str, &'static str) {
        match self {
            Self::Core(e) => match e {
                AppError::Invalid(_) => ("validation-error", "Your request parameters didn't validate"),
                AppError::NoAdminToken | AppError::Unauthenticated(_) => ("unauthorized", "Unauthorized"),
                AppError::Limited { .. } => ("too-many-requests", "Too many requests"),
                AppError::Forbidden(_) => ("forbidden", "Forbidden"),
                AppError::NotFound { .. } => ("not-found", "Not found"),
                AppError::Conflict(_) => ("conflict", "Conflict"),
                AppError::Gone(_) => ("gone", "Gone"),
                AppError::Unavailable(_) => ("unavailable", "Service unavailable"),
                AppError::Internal(_) => ("internal", "Internal server error"),
            },
            Self::BadRequest(_) => ("bad-request", "Bad request"),
            Self::MethodNotAllowed { .. } => ("method-not-allowed", "Method not allowed"),
            Self::PayloadTooLarge => ("payload-too-large", "Payload too large"),
            Self::UnsupportedMediaType(_) => ("unsupported-media-type", "Unsupported media type"),
        }
    }
}

/// Renders an error as `application/problem+json`. Internal details are logged, never sent.
pub fn problem(e: &HttpError) -> Response<Body> {
    let status = e.status();
    let (slug, title) = e.slug();
    let detail = match e {
        HttpError::Core(AppError::Invalid(errs)) if errs.len() == 1 => {
            format!("{} {}", errs[0].field, errs[0].message)
        }
        HttpError::Core(AppError::Invalid(_)) => "several fields are invalid; see errors".to_string(),
        // 5xx details are fixed sentences: what went wrong inside is logged, never sent.
        HttpError::Core(AppError::Internal(_)) => "an unexpected error occurred; it has been logged".to_string(),
        HttpError::Core(AppError::Unavailable(_)) => "the service is temporarily unavailable; retry shortly".to_string(),
        other => other.to_string(),
    };
    let mut body = json!({ "type": format!("https://gatehouse.dev/problems/{slug}"), "title": title, "status": status, "detail": detail });
    if let HttpError::Core(AppError::Invalid(errs)) = e {
        body["errors"] = json!(errs);
    }
    let mut builder = Response::builder().status(status).header(CONTENT_TYPE, "application/problem+json");
    if status == 401 {
        builder = builder.header("WWW-Authenticate", "Bearer realm=\"gatehouse\"");
    }
    if let HttpError::MethodNotAllowed { allow, .. } = e {
        builder = builder.header("Allow", allow.join(", "));
    }
    if let HttpError::Core(AppError::Limited { retry_after, .. }) = e {
        builder = builder.header("Retry-After", retry_after.to_string());
    }
    if status == 503 {
        builder = builder.header("Retry-After", "1");
    }
    builder.body(Body::Text(body.to_string())).expect("static response parts are valid")
}

pub fn json<T: Serialize>(status: u16, value: &T) -> HttpResult {
    let body = serde_json::to_string(value).map_err(AppError::internal)?;
    Ok(Response::builder().status(status).header(CONTENT_TYPE, "application/json").body(Body::Text(body)).expect("valid response"))
}

pub fn no_content() -> HttpResult {
    Ok(Response::builder().status(204).body(Body::Empty).expect("valid response"))
}

fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

/// Reads a JSON body into `T`: 413 beyond 64 KiB, 415 for a non-JSON type, 400 for a
/// malformed body, an unknown field, a missing field or a value of the wrong type (naming it).
pub fn parse_json<T: DeserializeOwned>(req: &Request) -> Result<T, HttpError> {
    let bytes = body_bytes(req);
    if bytes.len() > MAX_BODY_BYTES {
        return Err(HttpError::PayloadTooLarge);
    }
    if let Some(ct) = req.headers().get(CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        let mime = ct.split(';').next().unwrap_or_default().trim();
        if !(mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))) {
            return Err(HttpError::UnsupportedMediaType(format!("the body must be application/json, not {mime}")));
        }
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(HttpError::BadRequest("a JSON request body is required".into()));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| json_error(&e))
}

fn json_error(e: &serde_path_to_error::Error<serde_json::Error>) -> HttpError {
    let inner = e.inner();
    let msg = inner.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    if inner.is_syntax() || inner.is_eof() {
        return HttpError::BadRequest(format!("the body is not valid JSON: {msg}"));
    }
    let path = e.path().to_string();
    let quoted = msg.split('`').nth(1).unwrap_or_default().to_string();
    let join = |name: &str| {
        if path == "." || path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    if msg.starts_with("unknown field") {
        // The path already ends with the unknown key.
        let field = if path == quoted || path.ends_with(&format!(".{quoted}")) { path.clone() } else { join(&quoted) };
        return AppError::field(&field, "is not a known field").into();
    }
    if msg.starts_with("missing field") {
        return AppError::field(&join(&quoted), "is required").into();
    }
    let field = if path == "." || path.is_empty() { "body".to_string() } else { path };
    AppError::field(&field, msg).into()
}

/// The path split into segments, without empty ones: `/api/portals/x` → `["api","portals","x"]`.
pub fn segments(req: &Request) -> Vec<String> {
    req.uri().path().split('/').filter(|s| !s.is_empty()).map(|s| s.to_string()).collect()
}

pub fn query(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref().and_then(|q| q.first(name).map(str::to_string))
}

pub fn bearer(req: &Request) -> Option<String> {
    let v = req.headers().get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string()).filter(|t| !t.is_empty() && t.len() <= 512)
}

/// Authenticates an admin API token (stored only as its SHA-256); an expired one is 401 like
/// an unknown one.
pub async fn admin<S: AdminTokenStore>(store: &S, req: &Request, now: crate::domain::Timestamp) -> Result<AdminToken, AppError> {
    let token = bearer(req).ok_or(AppError::NoAdminToken)?;
    let hash = token_hash(&token);
    match store.find_admin_token(&hash).await? {
        Some(t) if crate::crypto::constant_time_eq(&t.token_hash, &hash) && !t.expired(now) => Ok(t),
        _ => Err(AppError::NoAdminToken),
    }
}

pub fn parse_uuid(raw: &str, what: &'static str) -> Result<uuid::Uuid, AppError> {
    raw.parse().map_err(|_| AppError::not_found(what))
}

pub fn route_not_found() -> HttpError {
    AppError::not_found("route").into()
}

/// Turns a handler's outcome into a response: errors become problems, and a panic becomes a
/// 500 problem instead of a crashed runtime (handlers are built with `panic = "unwind"`).
/// Every response, errors included, carries `Cache-Control: no-store`: logins, new credentials
/// and admin data must never sit in a browser or proxy cache.
pub async fn guard<Fut: Future<Output = HttpResult>>(handling: Fut) -> Response<Body> {
    let mut response = respond(handling).await;
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn respond<Fut: Future<Output = HttpResult>>(handling: Fut) -> Response<Body> {
    match AssertUnwindSafe(handling).catch_unwind().await {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => {
            if let HttpError::Core(AppError::Internal(_) | AppError::Unavailable(_)) = e {
                tracing::error!(error = %error_chain(&e), "request failed");
            }
            problem(&e)
        }
        Err(_) => {
            tracing::error!("handler panicked");
            problem(&AppError::internal("panic").into())
        }
    }
}

/// Runs an HTTP function: every error becomes a problem response, every panic a 500 problem,
/// and each request is logged by method, path and status only (never bodies or headers).
pub async fn serve<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Request) -> Fut + Send + Sync,
    Fut: Future<Output = HttpResult> + Send,
{
    crate::logging::init();
    let handler = &handler;
    lambda_http::run(lambda_http::service_fn(move |req: Request| async move {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let response = guard(handler(req)).await;
        tracing::info!(%method, %path, status = response.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
        Ok::<_, std::convert::Infallible>(response)
    }))
    .await
}

/// The caller's address as API Gateway saw it (`unknown` when not given).
///
/// Behind the optional CloudFront + WAF front of the template (`EnableWaf`), API Gateway sees
/// CloudFront's address; the viewer's arrives in `CloudFront-Viewer-Address`. That header is
/// believed only when the request also carries the secret CloudFront adds on its way to the
/// origin (`x-gatehouse-origin-verify` equal to `origin_verify`, the configured
/// `GATEHOUSE_ORIGIN_VERIFY`), so a caller who goes around CloudFront cannot choose the address
/// it is counted under.
pub fn client_ip(req: &Request, origin_verify: Option<&str>) -> String {
    let source = match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    };
    viewer_address(req.headers(), origin_verify).or(source).unwrap_or_else(|| "unknown".into())
}

fn viewer_address(headers: &lambda_http::http::HeaderMap, secret: Option<&str>) -> Option<String> {
    let secret = secret?;
    let presented = headers.get("x-gatehouse-origin-verify")?.to_str().ok()?;
    if !crate::crypto::constant_time_eq(presented, secret) {
        return None;
    }
    // `<ip>:<port>` (IPv6 addresses contain colons too: the port is after the last one).
    let v = headers.get("cloudfront-viewer-address")?.to_str().ok()?.trim();
    v.rsplit_once(':').map(|(ip, _)| ip.to_string()).filter(|ip| !ip.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FieldError;

    fn body_json(resp: &Response<Body>) -> serde_json::Value {
        match resp.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_a_500_problem() {
        let resp = guard(async {
            let v: Vec<u8> = Vec::new();
            let _ = v[3];
            no_content()
        })
        .await;
        assert_eq!(resp.status(), 500);
        assert_eq!(resp.headers()[CONTENT_TYPE], "application/problem+json");
        let body = body_json(&resp);
        assert_eq!(body["status"], 500);
        assert!(!body["detail"].as_str().unwrap().contains("index"), "no internals leak");
    }

    #[tokio::test]
    async fn every_response_errors_and_panics_included_is_marked_no_store() {
        let ok = guard(async { json(200, &serde_json::json!({ "token": "ghs_x" })) }).await;
        let empty = guard(async { no_content() }).await;
        let err = guard(async { Err(AppError::NoAdminToken.into()) }).await;
        let panicked = guard(async {
            let v: Vec<u8> = Vec::new();
            let _ = v[1];
            no_content()
        })
        .await;
        for resp in [ok, empty, err, panicked] {
            assert_eq!(resp.headers()[CACHE_CONTROL], "no-store", "{}", resp.status());
        }
    }

    #[tokio::test]
    async fn a_503_problem_never_carries_the_stores_message() {
        let store_error: HttpError = crate::store::StoreError::Unavailable("ThrottlingException on table gatehouse-prod".into()).into();
        let resp = guard(async move { Err(store_error) }).await;
        assert_eq!(resp.status(), 503);
        let detail = body_json(&resp)["detail"].as_str().unwrap().to_string();
        assert!(!detail.contains("Throttling") && !detail.contains("gatehouse-prod"), "{detail}");
        assert_eq!(resp.headers()["retry-after"], "1");
    }

    #[tokio::test]
    async fn an_error_answers_its_problem_with_the_right_headers() {
        let resp = guard(async { Err(AppError::Limited { detail: "slow down".into(), retry_after: 42 }.into()) }).await;
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "42");
        let resp = guard(async { Err(AppError::Invalid(vec![FieldError::new("email", "is required")]).into()) }).await;
        let body = body_json(&resp);
        assert_eq!(body["errors"][0]["field"], "email");
        assert_eq!(body["detail"], "email is required");
    }

    fn request(body: &[u8], content_type: Option<&str>) -> Request {
        let mut b = lambda_http::http::Request::builder().method("POST").uri("/api/x");
        if let Some(ct) = content_type {
            b = b.header(CONTENT_TYPE, ct);
        }
        b.body(Body::Binary(body.to_vec())).unwrap()
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        email: String,
        #[serde(default)]
        age: Option<u8>,
    }

    #[test]
    fn bodies_are_parsed_or_refused_with_the_right_status() {
        assert!(parse_json::<Sample>(&request(br#"{"email": "a@b.co"}"#, Some("application/json; charset=utf-8"))).is_ok());
        let status = |b: &[u8], ct| parse_json::<Sample>(&request(b, ct)).unwrap_err().status();
        assert_eq!(status(br#"{"email": "#, Some("application/json")), 400);
        assert_eq!(status(br#"{"email": "x", "role": 1}"#, None), 400);
        assert_eq!(status(br#"{"email": 5}"#, None), 400);
        assert_eq!(status(b"", None), 400);
        assert_eq!(status(br#"{"email": "x"}"#, Some("text/plain")), 415);
        assert_eq!(status(&vec![b' '; MAX_BODY_BYTES + 1], None), 413);
    }

    #[test]
    fn the_cloudfront_viewer_address_counts_only_with_the_origin_secret() {
        let mut h = lambda_http::http::HeaderMap::new();
        h.insert("cloudfront-viewer-address", "203.0.113.9:50123".parse().unwrap());
        assert_eq!(viewer_address(&h, Some("s3cret")), None, "no origin secret: not from CloudFront");
        h.insert("x-gatehouse-origin-verify", "guess".parse().unwrap());
        assert_eq!(viewer_address(&h, Some("s3cret")), None);
        h.insert("x-gatehouse-origin-verify", "s3cret".parse().unwrap());
        assert_eq!(viewer_address(&h, Some("s3cret")).as_deref(), Some("203.0.113.9"));
        assert_eq!(viewer_address(&h, None), None, "without the front the header is never believed");
        h.insert("cloudfront-viewer-address", "2001:db8::7:443".parse().unwrap());
        assert_eq!(viewer_address(&h, Some("s3cret")).as_deref(), Some("2001:db8::7"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

        #[test]
        fn no_body_makes_the_json_parser_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse_json::<Sample>(&request(&bytes, None));
        }

        #[test]
        fn no_string_makes_a_domain_parser_panic(s in "\\PC{0,300}") {
            let _ = crate::domain::Email::parse(&s);
            let _ = crate::domain::Username::parse(&s);
            let _ = crate::domain::PersonName::parse(&s);
            let _ = crate::domain::Domain::parse(&s);
            let _ = crate::domain::DeveloperState::parse(&s);
            let _ = crate::domain::settings::parse_base_url(&s);
            let _ = crate::crypto::token_id(&s, "ghs_");
            let _ = crate::tokens::key_ids(&s);
            let _ = crate::applications::parse_product(&s);
        }

        #[test]
        fn an_accepted_email_always_reparses_to_itself(local in "[a-zA-Z0-9._%+-]{1,20}", domain in "[a-z0-9-]{1,20}\\.[a-z]{2,6}") {
            if let Ok(e) = crate::domain::Email::parse(&format!("{local}@{domain}")) {
                let again = crate::domain::Email::parse(e.as_str()).unwrap();
                proptest::prop_assert_eq!(again.normalized(), e.normalized());
            }
        }
    }
}

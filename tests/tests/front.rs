//! The local front answers like API Gateway (an HTTP API built from `template.yaml`), through
//! HTTP only: unmatched routes reach the `$default` route (404 / 405 problems with `Allow`),
//! bodies that are not UTF-8 reach the functions base64-encoded and are refused with 400
//! problems, and `GET /example/orders` is guarded by the Lambda authorizer with the template's
//! identity sources and cache TTL (the stack's `ProtectedPortalId` is the demo portal). Cache
//! expiry is tested without sleeping: the local front shifts its cache clock by the
//! `x-gatehouse-clock-offset` header, as the functions do.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

/// The origin of the stack (the API is under `/api`, the example backend at `/example/orders`).
fn origin(s: &Stack) -> String {
    s.api.trim_end_matches('/').trim_end_matches("/api").to_string()
}

fn cache_ttl(s: &Stack) -> i64 {
    s.env.get("GATEHOUSE_AUTHORIZER_CACHE_TTL_SECONDS").and_then(|t| t.parse().ok()).expect("the stack names the authorizer cache TTL")
}

/// `GET /example/orders` with this key (or none), as if the clock were `offset` seconds ahead.
async fn orders(s: &Stack, key: Option<&str>, offset: i64) -> Reply {
    let mut req = s.http.get(format!("{}/example/orders", origin(s))).header("x-gatehouse-clock-offset", offset.to_string());
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    let resp = req.send().await.expect("the front answers");
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = resp.json().await.unwrap_or(Value::Null);
    Reply { status, headers, body }
}

/// API Gateway's own answer: `{"message": ...}` as JSON.
fn assert_gateway_message(r: &Reply, status: u16, message: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(r.body, json!({ "message": message }));
    assert!(r.content_type().starts_with("application/json"), "{}", r.content_type());
}

struct Caller {
    developer: String,
    session: String,
    app: String,
    key: String,
}

/// A developer of the protected portal (invited, so approved with a confirmed address) with an
/// application and an API key, not yet subscribed to anything.
async fn caller(s: &Stack) -> Caller {
    let portal = &s.env["GATEHOUSE_PORTAL_ID"];
    let email = unique_email("front");
    let developer = s.invited_developer(portal, &email, "Front Caller", None).await;
    let r =
        s.send(Method::POST, &format!("/portals/{portal}/login"), None, Some(json!({ "login": email, "password": STRONG_PASSWORD }))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let session = r.body["token"].as_str().unwrap().to_string();
    let r =
        s.send(Method::POST, &format!("/portals/{portal}/applications"), Some(&session), Some(json!({ "name": "Orders client" }))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let app = r.body["id"].as_str().unwrap().to_string();
    let r = s.send(Method::POST, &format!("/portals/{portal}/applications/{app}/credentials"), Some(&session), None).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let key = r.body["key"].as_str().unwrap().to_string();
    Caller { developer, session, app, key }
}

async fn subscribe(s: &Stack, c: &Caller) {
    let portal = &s.env["GATEHOUSE_PORTAL_ID"];
    let r = s
        .send(
            Method::POST,
            &format!("/portals/{portal}/applications/{}/subscriptions", c.app),
            Some(&c.session),
            Some(json!({ "product": "orders" })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn an_allowed_key_reaches_the_backend_with_the_authorizers_context() {
    let s = stack();
    let c = caller(&s).await;
    subscribe(&s, &c).await;
    let r = orders(&s, Some(&c.key), 0).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["developer_id"], c.developer.as_str(), "requestContext.authorizer.lambda reached the backend");
    assert_eq!(r.body["orders"], json!([]));
    assert!(r.headers.get("apigw-requestid").is_some());
}

#[tokio::test]
async fn a_key_the_authorizer_refuses_is_forbidden_as_api_gateway_answers() {
    let s = stack();
    let c = caller(&s).await;
    assert_gateway_message(&orders(&s, Some(&c.key), 0).await, 403, "Forbidden");
    let mut forged = c.key.clone();
    forged.pop();
    forged.push(if c.key.ends_with('A') { 'B' } else { 'A' });
    assert_gateway_message(&orders(&s, Some(&forged), 0).await, 403, "Forbidden");
    assert_gateway_message(&orders(&s, Some("not-a-key"), 0).await, 403, "Forbidden");
}

#[tokio::test]
async fn a_request_without_its_identity_source_is_unauthorized() {
    let s = stack();
    assert_gateway_message(&orders(&s, None, 0).await, 401, "Unauthorized");
    assert_gateway_message(&orders(&s, Some(""), 0).await, 401, "Unauthorized");
}

#[tokio::test]
async fn a_cached_decision_is_reused_within_the_ttl_and_not_beyond() {
    let s = stack();
    let ttl = cache_ttl(&s);
    assert!(ttl > 1, "the template caches decisions (ReauthorizeEvery = {ttl})");
    let c = caller(&s).await;
    assert_gateway_message(&orders(&s, Some(&c.key), 0).await, 403, "Forbidden");
    subscribe(&s, &c).await;
    // API Gateway does not ask the authorizer again while the decision is cached...
    assert_gateway_message(&orders(&s, Some(&c.key), 0).await, 403, "Forbidden");
    assert_gateway_message(&orders(&s, Some(&c.key), ttl - 1).await, 403, "Forbidden");
    // ...and does once the TTL has passed.
    assert_eq!(orders(&s, Some(&c.key), ttl + 1).await.status, 200);
}

#[tokio::test]
async fn a_revoked_developers_key_keeps_working_until_the_ttl_then_fails() {
    let s = stack();
    let ttl = cache_ttl(&s);
    let portal = s.env["GATEHOUSE_PORTAL_ID"].clone();
    let c = caller(&s).await;
    subscribe(&s, &c).await;
    assert_eq!(orders(&s, Some(&c.key), 0).await.status, 200);
    assert_eq!(s.set_state(&portal, &c.developer, "revoked").await.status, 200);
    assert_eq!(orders(&s, Some(&c.key), 0).await.status, 200, "the cached allow stands for up to the TTL");
    assert_gateway_message(&orders(&s, Some(&c.key), ttl + 1).await, 403, "Forbidden");
}

#[tokio::test]
async fn unmatched_routes_answer_404_and_known_paths_with_a_wrong_method_405_with_allow() {
    let s = stack();
    let base = origin(&s);
    let portal = uuid::Uuid::new_v4();
    for (method, path, allow) in [
        ("PUT", format!("/api/portals/{portal}"), Some("GET, PATCH")),
        ("DELETE", "/api/portals".to_string(), Some("POST")),
        ("GET", format!("/api/portals/{portal}/login"), Some("POST")),
        ("POST", "/example/orders".to_string(), Some("GET")),
        ("PUT", format!("/api/portals/{portal}/developers/invites"), Some("DELETE, GET, PATCH, POST")),
        ("GET", "/api/nowhere".to_string(), None),
        ("GET", "/api/portals/".to_string(), None),
        ("POST", format!("/api/portals/{portal}/register/"), None),
        ("GET", "/".to_string(), None),
    ] {
        let req = s.http.request(Method::from_bytes(method.as_bytes()).unwrap(), format!("{base}{path}"));
        let resp = req.header("content-type", "application/json").body(b"{\"a\": \"\xff\"}".to_vec()).send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(ct.starts_with("application/problem+json"), "{method} {path}: {ct}");
        match allow {
            Some(allow) => {
                assert_eq!(status, 405, "{method} {path}: {body}");
                assert_eq!(headers.get("allow").and_then(|v| v.to_str().ok()), Some(allow), "{method} {path}");
            }
            None => assert_eq!(status, 404, "{method} {path}: {body}"),
        }
        assert_eq!(body["status"], status, "{body}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_a_400_problem_from_every_function_never_a_500() {
    let s = stack();
    let portal = s.portal(json!({ "require_verified_email": false })).await;
    let email = unique_email("bytes");
    let dev = s.register_new(&portal, &email, "Bytes").await;
    assert_eq!(s.set_state(&portal, &dev, "approved").await.status, 200);
    let r =
        s.send(Method::POST, &format!("/portals/{portal}/login"), None, Some(json!({ "login": email, "password": STRONG_PASSWORD }))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let session = r.body["token"].as_str().unwrap().to_string();
    let admin = s.admin_token.clone();
    let id = uuid::Uuid::new_v4();
    // Every operation that takes a body, with the credential it needs (and the function behind it).
    let routes: Vec<(Method, String, Option<&str>)> = vec![
        (Method::POST, "/portals".into(), Some(&admin)),                                  // portals
        (Method::PATCH, format!("/portals/{portal}"), Some(&admin)),                      // portals
        (Method::POST, format!("/portals/{portal}/register"), None),                      // registration
        (Method::PATCH, format!("/portals/{portal}/developers/{dev}"), Some(&admin)),     // approvals
        (Method::POST, format!("/portals/{portal}/developers/invites"), Some(&admin)),    // invites
        (Method::POST, format!("/portals/{portal}/invites/accept"), None),                // invites
        (Method::POST, format!("/portals/{portal}/login"), None),                         // sessions
        (Method::POST, format!("/portals/{portal}/me/password"), Some(&session)),         // sessions
        (Method::POST, format!("/portals/{portal}/password-reset"), None),                // password-reset
        (Method::POST, format!("/portals/{portal}/password-reset/confirm"), None),        // password-reset
        (Method::POST, format!("/portals/{portal}/verify-email"), None),                  // password-reset
        (Method::POST, format!("/portals/{portal}/teams"), Some(&admin)),                 // teams
        (Method::POST, format!("/portals/{portal}/teams/{id}/developers"), Some(&admin)), // teams
        (Method::POST, format!("/portals/{portal}/applications"), Some(&session)),        // applications
        (Method::POST, format!("/portals/{portal}/applications/{id}/subscriptions"), Some(&session)), // applications
    ];
    let bodies: [&[u8]; 3] = [b"{\"name\": \"\xff\xfe\"}", b"\xff\xfe\xfd", b"{\"email\": \"a\xc3\x28@example.com\"}"];
    for (method, path, token) in &routes {
        for body in bodies {
            let r = s.send_raw(method.clone(), path, *token, "application/json", body.to_vec()).await;
            assert!(r.status.as_u16() < 500, "{method} {path}: {} {}", r.status, r.body);
            r.assert_problem(400);
        }
    }
    // Nothing was written by any of them.
    let list = s.list(&portal, "").await;
    assert_eq!(list.body["total"], 1, "{}", list.body);
}

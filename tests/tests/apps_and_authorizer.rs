//! Teams, applications, API keys and the Lambda authorizer: approval decides, at once, whether
//! a developer's keys open anything. The authorizer is invoked with API Gateway-shaped events
//! through the local Lambda invoke endpoint (through HTTP and the front: `front.rs`); the delete
//! cascade is checked on the table itself.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn approved_session(s: &Stack, portal: &str) -> (String, String) {
    let email = unique_email("app");
    let id = s.approved_developer(portal, &email, None).await;
    let r =
        s.send(Method::POST, &format!("/portals/{portal}/login"), None, Some(json!({ "login": email, "password": STRONG_PASSWORD }))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    (id, r.body["token"].as_str().unwrap().to_string())
}

async fn new_app(s: &Stack, portal: &str, session: &str, name: &str) -> String {
    let r = s.send(Method::POST, &format!("/portals/{portal}/applications"), Some(session), Some(json!({ "name": name }))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn new_key(s: &Stack, portal: &str, session: &str, app: &str) -> String {
    let r = s.send(Method::POST, &format!("/portals/{portal}/applications/{app}/credentials"), Some(session), None).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["key"].as_str().unwrap().to_string()
}

/// Invokes the authorizer as API Gateway would (REQUEST, payload 2.0).
async fn authorize(s: &Stack, portal: &str, route: &str, key: Option<&str>) -> bool {
    let mut event: Value = serde_json::from_str(include_str!("../../functions/authorizer/events/request.json")).unwrap();
    event["routeKey"] = json!(route);
    event["requestContext"]["routeKey"] = json!(route);
    event["stageVariables"]["gatehouse_portal_id"] = json!(portal);
    match key {
        Some(k) => event["headers"]["x-api-key"] = json!(k),
        None => {
            event["headers"].as_object_mut().unwrap().remove("x-api-key");
        }
    }
    let r = s.http.post(s.invocations("authorizer")).json(&event).send().await.unwrap();
    let body: Value = r.json().await.unwrap();
    assert!(body["isAuthorized"].is_boolean(), "{body}");
    body["isAuthorized"].as_bool().unwrap()
}

#[tokio::test]
async fn teams_are_created_listed_and_their_membership_shows_on_the_developer() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let r = s.admin(Method::POST, &format!("/portals/{portal}/teams"), Some(json!({ "name": "Partners" }))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let team = r.body["id"].as_str().unwrap().to_string();
    s.admin(Method::POST, &format!("/portals/{portal}/teams"), Some(json!({ "name": "partners" }))).await.assert_problem(409);
    s.admin(Method::POST, &format!("/portals/{portal}/teams"), Some(json!({ "title": "x" }))).await.assert_problem(400);
    let list = s.admin(Method::GET, &format!("/portals/{portal}/teams"), None).await;
    assert_eq!(list.body["list"][0]["name"], "Partners");

    let dev = s.register_new(&portal, &unique_email("member"), "Member").await;
    let add = s.admin(Method::POST, &format!("/portals/{portal}/teams/{team}/developers"), Some(json!({ "id": dev }))).await;
    assert_eq!(add.status, 201, "{}", add.body);
    assert_eq!(s.developer(&portal, &dev).await.body["teams"], json!([team]));
    s.admin(Method::POST, &format!("/portals/{portal}/teams/{team}/developers"), Some(json!({ "id": dev }))).await.assert_problem(409);
    let members = s.admin(Method::GET, &format!("/portals/{portal}/teams/{team}/developers"), None).await;
    assert_eq!(members.body["list"][0]["id"], dev.as_str());
    assert_eq!(s.admin(Method::DELETE, &format!("/portals/{portal}/teams/{team}/developers/{dev}"), None).await.status, 204);
    assert_eq!(s.developer(&portal, &dev).await.body["teams"], json!([]));
    s.admin(Method::DELETE, &format!("/portals/{portal}/teams/{team}/developers/{dev}"), None).await.assert_problem(404);
    // Another portal's developer or team is not found.
    let other = s.portal(json!({})).await;
    let stranger = s.register_new(&other, &unique_email("stranger"), "Stranger").await;
    s.admin(Method::POST, &format!("/portals/{portal}/teams/{team}/developers"), Some(json!({ "id": stranger }))).await.assert_problem(404);
    s.admin(Method::GET, &format!("/portals/{other}/teams/{team}/developers"), None).await.assert_problem(404);
    s.send(Method::GET, &format!("/portals/{portal}/teams"), None, None).await.assert_problem(401);
}

#[tokio::test]
async fn an_approved_developer_creates_applications_and_keys_that_are_shown_once() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let (dev, session) = approved_session(&s, &portal).await;
    let app = new_app(&s, &portal, &session, "Mobile app").await;
    assert_eq!(s.developer(&portal, &dev).await.body["application_count"], 1);
    let key = new_key(&s, &portal, &session, &app).await;
    assert!(key.starts_with("ghk_"));
    let keys = s.send(Method::GET, &format!("/portals/{portal}/applications/{app}/credentials"), Some(&session), None).await;
    let listed = keys.body["list"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!keys.body.to_string().contains(&key), "the key is shown only once");
    let sub = s
        .send(
            Method::POST,
            &format!("/portals/{portal}/applications/{app}/subscriptions"),
            Some(&session),
            Some(json!({ "product": "Orders" })),
        )
        .await;
    assert_eq!(sub.status, 201, "{}", sub.body);
    assert_eq!(sub.body["products"], json!(["orders"]));
    let admin_view = s.admin(Method::GET, &format!("/portals/{portal}/developers/{dev}/applications"), None).await;
    assert_eq!(admin_view.body["list"][0]["id"], app.as_str());
    let second = new_app(&s, &portal, &session, "Backend").await;
    assert_eq!(s.developer(&portal, &dev).await.body["application_count"], 2);
    assert_eq!(s.send(Method::DELETE, &format!("/portals/{portal}/applications/{second}"), Some(&session), None).await.status, 204);
    assert_eq!(s.developer(&portal, &dev).await.body["application_count"], 1);
    s.send(Method::POST, &format!("/portals/{portal}/applications"), Some(&session), Some(json!({ "name": "" }))).await.assert_problem(400);
    s.send(Method::POST, &format!("/portals/{portal}/applications"), None, Some(json!({ "name": "x" }))).await.assert_problem(401);
}

#[tokio::test]
async fn a_session_that_must_change_its_one_time_password_cannot_create_applications() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let username = unique_username("otpapp");
    s.admin(
        Method::POST,
        &format!("/portals/{portal}/developers/invites"),
        Some(json!({ "username": username, "password": "temporary-password-123", "name": "Otp" })),
    )
    .await;
    let r = s
        .send(
            Method::POST,
            &format!("/portals/{portal}/login"),
            None,
            Some(json!({ "login": username, "password": "temporary-password-123" })),
        )
        .await;
    let session = r.body["token"].as_str().unwrap().to_string();
    let r = s.send(Method::POST, &format!("/portals/{portal}/applications"), Some(&session), Some(json!({ "name": "Too soon" }))).await;
    r.assert_problem(403);
    s.send(Method::GET, &format!("/portals/{portal}/applications"), Some(&session), None).await.assert_problem(403);
}

#[tokio::test]
async fn the_authorizer_allows_a_key_only_while_its_developer_is_approved_and_subscribed() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let (dev, session) = approved_session(&s, &portal).await;
    let app = new_app(&s, &portal, &session, "Gated").await;
    let key = new_key(&s, &portal, &session, &app).await;
    // GET /example/orders requires the "orders" product, GET /example/free any live key
    // (GATEHOUSE_ROUTE_PRODUCTS: `GET:/example/free=*`).
    assert!(!authorize(&s, &portal, "GET /example/orders", Some(&key)).await, "not subscribed yet");
    assert!(authorize(&s, &portal, "GET /example/free", Some(&key)).await, "a route mapped to * needs only a live key");
    s.send(
        Method::POST,
        &format!("/portals/{portal}/applications/{app}/subscriptions"),
        Some(&session),
        Some(json!({ "product": "orders" })),
    )
    .await;
    assert!(authorize(&s, &portal, "GET /example/orders", Some(&key)).await);

    assert!(!authorize(&s, &portal, "GET /example/orders", None).await, "missing header");
    assert!(!authorize(&s, &portal, "GET /example/orders", Some("ghk_unknown")).await, "malformed key");
    let mut forged = key.clone();
    forged.pop();
    forged.push(if key.ends_with('A') { 'B' } else { 'A' });
    assert!(!authorize(&s, &portal, "GET /example/orders", Some(&forged)).await, "unknown key");
    let other = s.portal(json!({})).await;
    assert!(!authorize(&s, &other, "GET /example/orders", Some(&key)).await, "key of another portal");

    assert_eq!(s.set_state(&portal, &dev, "revoked").await.status, 200);
    assert!(!authorize(&s, &portal, "GET /example/orders", Some(&key)).await, "revoked");
    assert_eq!(s.set_state(&portal, &dev, "approved").await.status, 200);
    assert!(authorize(&s, &portal, "GET /example/orders", Some(&key)).await, "re-approved");
    assert_eq!(s.admin(Method::DELETE, &format!("/portals/{portal}/developers/{dev}"), None).await.status, 204);
    assert!(!authorize(&s, &portal, "GET /example/orders", Some(&key)).await, "deleted");
}

#[tokio::test]
async fn a_route_without_a_product_mapping_is_denied_even_for_a_subscribed_live_key() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let (_, session) = approved_session(&s, &portal).await;
    let app = new_app(&s, &portal, &session, "Everywhere").await;
    let key = new_key(&s, &portal, &session, &app).await;
    let r = s
        .send(
            Method::POST,
            &format!("/portals/{portal}/applications/{app}/subscriptions"),
            Some(&session),
            Some(json!({ "product": "orders" })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(authorize(&s, &portal, "GET /example/orders", Some(&key)).await, "the mapped route");
    assert!(!authorize(&s, &portal, "GET /example/unmapped", Some(&key)).await, "no mapping: denied by default");
    assert!(!authorize(&s, &portal, "POST /example/orders", Some(&key)).await, "the method is part of the route");
}

#[tokio::test]
async fn a_deleted_credential_or_application_stops_working_at_once() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let (_, session) = approved_session(&s, &portal).await;
    let app = new_app(&s, &portal, &session, "Short-lived").await;
    let key = new_key(&s, &portal, &session, &app).await;
    let other_key = new_key(&s, &portal, &session, &app).await;
    assert!(authorize(&s, &portal, "GET /example/free", Some(&key)).await);
    let keys = s.send(Method::GET, &format!("/portals/{portal}/applications/{app}/credentials"), Some(&session), None).await;
    let id = keys.body["list"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        s.send(Method::DELETE, &format!("/portals/{portal}/applications/{app}/credentials/{id}"), Some(&session), None).await.status,
        204
    );
    let alive = [
        authorize(&s, &portal, "GET /example/free", Some(&key)).await,
        authorize(&s, &portal, "GET /example/free", Some(&other_key)).await,
    ];
    assert_eq!(alive.iter().filter(|a| **a).count(), 1, "exactly the deleted key stopped working");
    assert_eq!(s.send(Method::DELETE, &format!("/portals/{portal}/applications/{app}"), Some(&session), None).await.status, 204);
    assert!(!authorize(&s, &portal, "GET /example/free", Some(&key)).await);
    assert!(!authorize(&s, &portal, "GET /example/free", Some(&other_key)).await);
}

#[tokio::test]
async fn deleting_a_developer_removes_every_item_it_owns() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    // A developer who accepted an invite, is in a team, has applications, keys, a subscription,
    // sessions and a pending reset link.
    let email = unique_email("owner");
    let dev = s.invited_developer(&portal, &email, "Owner", Some(&unique_username("owner"))).await;
    let team = s.admin(Method::POST, &format!("/portals/{portal}/teams"), Some(json!({ "name": "Owners" }))).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.admin(Method::POST, &format!("/portals/{portal}/teams/{team}/developers"), Some(json!({ "id": dev }))).await;
    let session = s
        .send(Method::POST, &format!("/portals/{portal}/login"), None, Some(json!({ "login": email, "password": STRONG_PASSWORD })))
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_string();
    for name in ["One", "Two"] {
        let app = new_app(&s, &portal, &session, name).await;
        new_key(&s, &portal, &session, &app).await;
        s.send(
            Method::POST,
            &format!("/portals/{portal}/applications/{app}/subscriptions"),
            Some(&session),
            Some(json!({ "product": "orders" })),
        )
        .await;
    }
    s.send(Method::POST, &format!("/portals/{portal}/password-reset"), None, Some(json!({ "email": email }))).await;
    s.wait_for_mail(&email, "Reset your password", 1).await;

    let mentions = |items: &[Value]| -> Vec<Value> { items.iter().filter(|i| i.to_string().contains(&dev)).cloned().collect() };
    let owned = |items: &[Value]| -> Vec<String> {
        mentions(items)
            .iter()
            .filter(|i| !matches!(i["kind"]["S"].as_str(), Some("event") | Some("mail_marker")))
            .map(|i| format!("{} {}", i["pk"]["S"].as_str().unwrap_or("?"), i["sk"]["S"].as_str().unwrap_or("?")))
            .collect()
    };
    let before = owned(&s.table_items().await);
    for expected in ["PROFILE", "APP#", "KEY#", "TEAM#", "SESSION#", "LINK#reset", "#EMAIL#", "#USERNAME#", "INVITE#"] {
        assert!(before.iter().any(|i| i.contains(expected)), "expected an item like {expected} before: {before:?}");
    }
    assert_eq!(s.admin(Method::DELETE, &format!("/portals/{portal}/developers/{dev}"), None).await.status, 204);
    let after = owned(&s.table_items().await);
    assert!(after.is_empty(), "left behind: {after:?}");
    // What remains is the audit trail: lifecycle events (kept 90 days) and their mail markers.
    let trail = mentions(&s.table_items().await);
    assert!(trail.iter().any(|i| i["type"]["S"] == "developer.deleted"));
    assert!(trail.iter().all(|i| i["ttl"]["N"].is_string()), "the audit trail expires");
    let members = s.admin(Method::GET, &format!("/portals/{portal}/teams/{team}/developers"), None).await;
    assert_eq!(members.body["list"], json!([]));
}

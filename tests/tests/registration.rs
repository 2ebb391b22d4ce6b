//! Self-registration through the local API: pending state, approval request, access-request
//! mail, no account enumeration, uniqueness under races, and every kind of bad input.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_new_registration_is_pending_with_an_open_approval_request_and_the_admins_are_mailed() {
    let s = stack();
    let admin = unique_email("admin");
    let portal = s.portal(json!({ "admin_emails": [admin] })).await;
    let email = unique_email("jane");
    let r = s
        .register(&portal, json!({ "email": email, "password": STRONG_PASSWORD, "name": "Jane Doe", "username": unique_username("jane") }))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["state"], "pending");
    let id = r.body["id"].as_str().unwrap();

    let dev = s.developer(&portal, id).await;
    assert_eq!(dev.status, 200);
    assert_eq!(dev.body["state"], "pending");
    assert_eq!(dev.body["email"], email);
    assert_eq!(dev.body["provider"], "builtin");
    assert_eq!(dev.body["must_change_password"], false);
    assert!(dev.body.get("password_hash").is_none() && !dev.body.to_string().contains("argon2"), "no hash in responses");

    let approval = s.approval_of(&portal, id).await;
    assert_eq!(approval["status"], "pending");
    assert_eq!(approval["event"], "developer_registration");
    assert_eq!(approval["developer"]["email"], email);

    let mail = s.wait_for_mail(&admin, "requests access", 1).await;
    assert!(mail[0]["body"].as_str().unwrap().contains(&email));
}

#[tokio::test]
async fn no_access_request_mail_is_sent_when_the_switch_is_off() {
    let s = stack();
    let admin = unique_email("admin");
    let portal = s.portal(json!({ "admin_emails": [admin], "access_request_email": false })).await;
    s.register_new(&portal, &unique_email("quiet"), "Quiet").await;
    s.settle().await;
    assert!(s.mails_to(&admin).await.is_empty());
}

#[tokio::test]
async fn registering_an_existing_email_answers_the_same_and_mails_the_owner_instead() {
    let s = stack();
    let admin = unique_email("admin");
    let portal = s.portal(json!({ "admin_emails": [admin] })).await;
    let email = unique_email("owner");
    let first = s.register(&portal, json!({ "email": email, "password": STRONG_PASSWORD, "name": "Owner" })).await;
    let again = s
        .register(&portal, json!({ "email": email.to_uppercase(), "password": "another strong passphrase here", "name": "Intruder" }))
        .await;
    assert_eq!(first.status, 202);
    assert_eq!(again.status, 202);
    assert_eq!(again.body["state"], "pending");
    assert_eq!(again.body.as_object().unwrap().keys().collect::<Vec<_>>(), first.body.as_object().unwrap().keys().collect::<Vec<_>>());
    assert_ne!(again.body["id"], first.body["id"]);

    let list = s.list(&portal, "").await;
    assert_eq!(list.body["total"], 1, "nothing was created: {}", list.body);
    assert_eq!(s.developer(&portal, again.body["id"].as_str().unwrap()).await.status, 404);

    let warned = s.wait_for_mail(&email, "tried to register", 1).await;
    assert_eq!(warned.len(), 1);
    s.settle().await;
    assert_eq!(s.mails_to(&admin).await.len(), 1, "only the real registration asks the admins");
}

#[tokio::test]
async fn a_taken_username_is_409_whatever_its_case() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let username = unique_username("taken");
    let r =
        s.register(&portal, json!({ "email": unique_email("a"), "password": STRONG_PASSWORD, "name": "A", "username": username })).await;
    assert_eq!(r.status, 202);
    let r = s
        .register(
            &portal,
            json!({ "email": unique_email("b"), "password": STRONG_PASSWORD, "name": "B", "username": username.to_uppercase() }),
        )
        .await;
    r.assert_problem(409);
    assert_eq!(s.list(&portal, "").await.body["total"], 1);
}

#[tokio::test]
async fn registration_is_403_when_self_registration_is_off() {
    let s = stack();
    let portal = s.portal(json!({ "self_registration": false })).await;
    let r = s.register(&portal, json!({ "email": unique_email("x"), "password": STRONG_PASSWORD, "name": "X" })).await;
    r.assert_problem(403);
    assert!(r.body["detail"].as_str().unwrap().contains("self-registration"));
}

#[tokio::test]
async fn registering_on_an_unknown_portal_is_404() {
    let s = stack();
    let r = s
        .register(&uuid::Uuid::new_v4().to_string(), json!({ "email": unique_email("x"), "password": STRONG_PASSWORD, "name": "X" }))
        .await;
    r.assert_problem(404);
}

#[tokio::test]
async fn twenty_concurrent_registrations_with_one_email_create_exactly_one_developer() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let email = unique_email("race");
    let replies = futures::future::join_all((0..20).map(|i| {
        let s = &s;
        let portal = &portal;
        let email = &email;
        async move { s.register(portal, json!({ "email": email, "password": STRONG_PASSWORD, "name": format!("Racer {i}") })).await }
    }))
    .await;
    for r in &replies {
        assert_eq!(r.status, 202, "{}", r.body);
    }
    let list = s.list(&portal, "").await;
    assert_eq!(list.body["total"], 1, "{}", list.body);
    assert_eq!(list.body["list"].as_array().unwrap().len(), 1);
    let pending = s.list(&portal, "state=pending").await;
    assert_eq!(pending.body["total"], 1);
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let r = s.send_raw(Method::POST, &format!("/portals/{portal}/register"), None, "application/json", b"{\"email\": ".to_vec()).await;
    r.assert_problem(400);
    let r = s.send_raw(Method::POST, &format!("/portals/{portal}/register"), None, "application/json", b"[1,2]".to_vec()).await;
    r.assert_problem(400);
}

#[tokio::test]
async fn unknown_and_missing_fields_are_400_naming_them() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let r = s.register(&portal, json!({ "email": unique_email("x"), "password": STRONG_PASSWORD, "name": "X", "role": "admin" })).await;
    r.assert_problem(400);
    assert_eq!(r.error_fields(), ["role"]);
    let r = s.register(&portal, json!({ "email": unique_email("x"), "name": "X" })).await;
    r.assert_problem(400);
    assert_eq!(r.error_fields(), ["password"]);
}

#[tokio::test]
async fn an_invalid_email_is_400_naming_the_field() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let r = s.register(&portal, json!({ "email": "not-an-email", "password": STRONG_PASSWORD, "name": "X" })).await;
    r.assert_problem(400);
    assert_eq!(r.error_fields(), ["email"]);
}

#[tokio::test]
async fn a_weak_password_is_400_naming_the_field_and_nothing_is_written() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    for weak in ["short", "password1234", "qwertyuiop"] {
        let r = s.register(&portal, json!({ "email": unique_email("weak"), "password": weak, "name": "Weak" })).await;
        r.assert_problem(400);
        assert_eq!(r.error_fields(), ["password"], "{weak}");
    }
    assert_eq!(s.list(&portal, "").await.body["total"], 0);
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let big = json!({ "email": unique_email("big"), "password": STRONG_PASSWORD, "name": "x".repeat(70 * 1024) });
    let r = s.register(&portal, big).await;
    r.assert_problem(413);
}

#[tokio::test]
async fn a_non_json_content_type_is_415() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let r = s.send_raw(Method::POST, &format!("/portals/{portal}/register"), None, "text/plain", b"hello".to_vec()).await;
    r.assert_problem(415);
}

//! Throttling and anti-automation through the local API: failed sign-ins per account (however
//! it is named) and per account and client, reserved before the password is checked; wrong
//! current passwords; and the per-client and per-portal limits of register and login.
//!
//! The local stack lifts the deployment-wide anti-automation limits (the suite registers
//! hundreds of developers from 127.0.0.1); these tests prove each limit on their own portal by
//! lowering it there (`settings.rate_limits`), which is also how a portal admin tightens them.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

async fn login(s: &Stack, portal: &str, login: &str, password: &str) -> Reply {
    s.send(Method::POST, &format!("/portals/{portal}/login"), None, Some(json!({ "login": login, "password": password }))).await
}

fn retry_after(r: &Reply) -> u64 {
    r.headers.get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn failed_logins_by_email_and_by_username_count_against_one_account() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let (email, username) = (unique_email("both"), unique_username("both"));
    s.approved_developer(&portal, &email, Some(&username)).await;
    for l in [&email, &username, &email.to_uppercase(), &username, &email] {
        login(&s, &portal, l, "not the password at all").await.assert_problem(401);
    }
    let held = login(&s, &portal, &username, STRONG_PASSWORD).await;
    held.assert_problem(429);
    assert!((1..=900).contains(&retry_after(&held)));
}

#[tokio::test]
async fn parallel_wrong_passwords_cannot_pass_the_failed_login_limit() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let email = unique_email("burst");
    s.approved_developer(&portal, &email, None).await;
    let guesses: Vec<String> = (0..15).map(|i| format!("guess number {i} is wrong")).collect();
    let replies = futures::future::join_all(guesses.iter().map(|g| login(&s, &portal, &email, g))).await;
    let failed = replies.iter().filter(|r| r.status == 401).count();
    let held = replies.iter().filter(|r| r.status == 429).count();
    assert_eq!((failed, held), (5, 10), "only five guesses per account and client reach the password check");
    login(&s, &portal, &email, STRONG_PASSWORD).await.assert_problem(429);
}

#[tokio::test]
async fn wrong_current_passwords_on_me_password_count_toward_the_login_limit() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let email = unique_email("guesser");
    s.approved_developer(&portal, &email, None).await;
    let session = login(&s, &portal, &email, STRONG_PASSWORD).await.body["token"].as_str().unwrap().to_string();
    for i in 0..5 {
        let body = json!({ "current_password": format!("a stolen session guesses {i}"), "new_password": "a different strong passphrase" });
        let r = s.send(Method::POST, &format!("/portals/{portal}/me/password"), Some(&session), Some(body)).await;
        r.assert_problem(400);
        assert_eq!(r.error_fields(), ["current_password"]);
    }
    let body = json!({ "current_password": STRONG_PASSWORD, "new_password": "a different strong passphrase" });
    s.send(Method::POST, &format!("/portals/{portal}/me/password"), Some(&session), Some(body)).await.assert_problem(429);
    login(&s, &portal, &email, STRONG_PASSWORD).await.assert_problem(429);
}

#[tokio::test]
async fn registrations_beyond_a_portals_per_client_limit_answer_429_with_retry_after() {
    let s = stack();
    let portal = s.portal(json!({ "rate_limits": { "register_per_client": 2 } })).await;
    for _ in 0..2 {
        s.register_new(&portal, &unique_email("client"), "Client").await;
    }
    let r = s.register(&portal, json!({ "email": unique_email("client"), "password": STRONG_PASSWORD, "name": "Third" })).await;
    r.assert_problem(429);
    assert!((1..=3600).contains(&retry_after(&r)));
    assert!(r.body["detail"].as_str().unwrap().contains("client"), "{}", r.body);
    assert_eq!(s.list(&portal, "").await.body["total"], 2, "nothing was created");
    // The next window starts afresh.
    let later = s
        .send_at(
            3600,
            Method::POST,
            &format!("/portals/{portal}/register"),
            None,
            Some(json!({ "email": unique_email("client"), "password": STRONG_PASSWORD, "name": "Later" })),
        )
        .await;
    assert_eq!(later.status, 202, "{}", later.body);
}

#[tokio::test]
async fn registrations_beyond_a_portals_own_limit_answer_429() {
    let s = stack();
    let portal = s.portal(json!({ "rate_limits": { "register_per_portal": 3 } })).await;
    for _ in 0..3 {
        s.register_new(&portal, &unique_email("portal"), "Portal").await;
    }
    let r = s.register(&portal, json!({ "email": unique_email("portal"), "password": STRONG_PASSWORD, "name": "Fourth" })).await;
    r.assert_problem(429);
    assert!(r.body["detail"].as_str().unwrap().contains("portal"), "{}", r.body);
    // Another portal is not affected.
    let other = s.portal(json!({})).await;
    s.register_new(&other, &unique_email("elsewhere"), "Elsewhere").await;
}

#[tokio::test]
async fn sign_in_attempts_beyond_a_portals_per_client_limit_answer_429_whatever_the_account() {
    let s = stack();
    let portal = s.portal(json!({ "rate_limits": { "login_per_client": 4 } })).await;
    // Unknown logins from one client, each a different name: no account limit applies to them.
    for i in 0..4 {
        login(&s, &portal, &format!("nobody-{i}-{}", uuid::Uuid::new_v4().simple()), "a sprayed password").await.assert_problem(401);
    }
    let r = login(&s, &portal, "yet-another-unknown", "a sprayed password").await;
    r.assert_problem(429);
    assert!(r.body["detail"].as_str().unwrap().contains("client"), "{}", r.body);
}

#[tokio::test]
async fn sign_in_attempts_beyond_a_portals_own_limit_answer_429() {
    let s = stack();
    let portal = s.portal(json!({ "rate_limits": { "login_per_portal": 3 } })).await;
    for i in 0..3 {
        login(&s, &portal, &format!("spray-{i}"), "a sprayed password").await.assert_problem(401);
    }
    let r = login(&s, &portal, "spray-last", "a sprayed password").await;
    r.assert_problem(429);
    assert!(r.body["detail"].as_str().unwrap().contains("portal"), "{}", r.body);
}

#[tokio::test]
async fn a_portal_cannot_set_a_rate_limit_out_of_range() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let r = s
        .admin(Method::PATCH, &format!("/portals/{portal}"), Some(json!({ "settings": { "rate_limits": { "login_per_client": 0 } } })))
        .await;
    r.assert_problem(400);
    assert_eq!(r.error_fields(), ["settings.rate_limits.login_per_client"]);
    let r = s
        .admin(Method::PATCH, &format!("/portals/{portal}"), Some(json!({ "settings": { "rate_limits": { "login_per_client": 7 } } })))
        .await;
    assert_eq!(r.body["settings"]["rate_limits"], json!({ "login_per_client": 7 }));
    let r = s
        .admin(Method::PATCH, &format!("/portals/{portal}"), Some(json!({ "settings": { "rate_limits": { "login_per_client": null } } })))
        .await;
    assert_eq!(r.body["settings"]["rate_limits"], json!({}), "null goes back to the deployment's limit");
}

//! Password reset, email verification and per-portal email templates, through the local API.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

async fn reset(s: &Stack, portal: &str, email: &str) -> Reply {
    s.send(Method::POST, &format!("/portals/{portal}/password-reset"), None, Some(json!({ "email": email }))).await
}

async fn confirm(s: &Stack, portal: &str, token: &str, password: &str) -> Reply {
    s.send(
        Method::POST,
        &format!("/portals/{portal}/password-reset/confirm"),
        None,
        Some(json!({ "token": token, "new_password": password })),
    )
    .await
}

async fn login(s: &Stack, portal: &str, login: &str, password: &str) -> Reply {
    s.send(Method::POST, &format!("/portals/{portal}/login"), None, Some(json!({ "login": login, "password": password }))).await
}

async fn approved_dev(s: &Stack, portal: &str, _name: &str) -> (String, String) {
    let email = unique_email("reset");
    let id = s.approved_developer(portal, &email, None).await;
    (id, email)
}

const NEW_PASSWORD: &str = "a brand new passphrase for me";

#[tokio::test]
async fn a_reset_request_answers_the_same_for_known_and_unknown_addresses_and_mails_only_an_approved_developer() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let (_, known) = approved_dev(&s, &portal, "Known").await;
    let pending = unique_email("pending");
    s.register_new(&portal, &pending, "Pending").await;
    let unknown = unique_email("unknown");
    let a = reset(&s, &portal, &known).await;
    let b = reset(&s, &portal, &unknown).await;
    let c = reset(&s, &portal, &pending).await;
    assert_eq!(a.status, 202);
    assert_eq!((a.status, &a.body), (b.status, &b.body), "known and unknown look the same");
    assert_eq!((a.status, &a.body), (c.status, &c.body));
    let mail = s.wait_for_mail(&known, "Reset your password", 1).await;
    assert!(link_token(&mail).starts_with("ghr_"));
    s.settle().await;
    assert!(s.mails_to(&unknown).await.is_empty());
    assert!(s.mails_about(&pending, "Reset").await.is_empty());
    reset(&s, &portal, "not-an-email").await.assert_problem(400);
}

#[tokio::test]
async fn a_reset_link_sets_the_password_once_ends_every_session_and_sends_the_success_mail() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let (_, email) = approved_dev(&s, &portal, "Resetter").await;
    let session = login(&s, &portal, &email, STRONG_PASSWORD).await.body["token"].as_str().unwrap().to_string();
    reset(&s, &portal, &email).await;
    let token = link_token(&s.wait_for_mail(&email, "Reset your password", 1).await);
    confirm(&s, &portal, &token, "password1").await.assert_problem(400);
    assert_eq!(confirm(&s, &portal, &token, NEW_PASSWORD).await.status, 204);
    confirm(&s, &portal, &token, "yet another passphrase here").await.assert_problem(410);
    s.send(Method::GET, &format!("/portals/{portal}/me"), Some(&session), None).await.assert_problem(401);
    login(&s, &portal, &email, STRONG_PASSWORD).await.assert_problem(401);
    assert_eq!(login(&s, &portal, &email, NEW_PASSWORD).await.status, 200);
    s.wait_for_mail(&email, "was changed", 1).await;
}

#[tokio::test]
async fn a_newer_reset_request_voids_the_older_link() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let (_, email) = approved_dev(&s, &portal, "Twice").await;
    reset(&s, &portal, &email).await;
    let first = link_token(&s.wait_for_mail(&email, "Reset your password", 1).await);
    reset(&s, &portal, &email).await;
    let second = link_token(&s.wait_for_mail(&email, "Reset your password", 2).await);
    assert_ne!(first, second);
    confirm(&s, &portal, &first, NEW_PASSWORD).await.assert_problem(410);
    assert_eq!(confirm(&s, &portal, &second, NEW_PASSWORD).await.status, 204);
}

#[tokio::test]
async fn a_reset_link_expires_after_reset_token_ttl_seconds() {
    let s = stack();
    let portal = s.portal(json!({ "reset_token_ttl_seconds": 600 })).await;
    let (_, email) = approved_dev(&s, &portal, "Slow").await;
    reset(&s, &portal, &email).await;
    let token = link_token(&s.wait_for_mail(&email, "Reset your password", 1).await);
    let body = json!({ "token": token, "new_password": NEW_PASSWORD });
    let path = format!("/portals/{portal}/password-reset/confirm");
    s.send_at(601, Method::POST, &path, None, Some(body.clone())).await.assert_problem(410);
    assert_eq!(s.send_at(590, Method::POST, &path, None, Some(body)).await.status, 204);
}

#[tokio::test]
async fn reset_is_403_with_a_sentence_when_switched_off() {
    let s = stack();
    let portal = s.portal(json!({ "reset_email": false })).await;
    let r = reset(&s, &portal, &unique_email("off")).await;
    r.assert_problem(403);
    assert!(r.body["detail"].as_str().unwrap().contains("password reset is disabled for this portal"));
}

#[tokio::test]
async fn reset_requests_per_address_are_throttled_but_still_answer_202() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let (_, email) = approved_dev(&s, &portal, "Flooded").await;
    for _ in 0..6 {
        assert_eq!(reset(&s, &portal, &email).await.status, 202);
    }
    s.wait_for_mail(&email, "Reset your password", 3).await;
    s.settle().await;
    assert_eq!(s.mails_about(&email, "Reset your password").await.len(), 3);
}

#[tokio::test]
async fn no_success_mail_is_sent_when_reset_success_email_is_off() {
    let s = stack();
    let portal = s.portal(json!({ "reset_success_email": false })).await;
    let (_, email) = approved_dev(&s, &portal, "Quiet").await;
    reset(&s, &portal, &email).await;
    let token = link_token(&s.wait_for_mail(&email, "Reset your password", 1).await);
    assert_eq!(confirm(&s, &portal, &token, NEW_PASSWORD).await.status, 204);
    s.settle().await;
    assert!(s.mails_about(&email, "was changed").await.is_empty());
}

#[tokio::test]
async fn a_self_registered_developer_verifies_the_address_with_the_emailed_link_once() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let email = unique_email("verify");
    let id = s.register_new(&portal, &email, "Verifier").await;
    assert_eq!(s.developer(&portal, &id).await.body["email_verified"], false);
    let token = link_token(&s.wait_for_mail(&email, "Confirm your email", 1).await);
    assert!(token.starts_with("ghv_"));
    let path = format!("/portals/{portal}/verify-email");
    assert_eq!(s.send(Method::POST, &path, None, Some(json!({ "token": token }))).await.status, 204);
    assert_eq!(s.developer(&portal, &id).await.body["email_verified"], true);
    s.send(Method::POST, &path, None, Some(json!({ "token": token }))).await.assert_problem(410);
    s.send(Method::POST, &path, None, Some(json!({ "token": "ghv_bogus" }))).await.assert_problem(410);
    s.send(Method::POST, &path, None, Some(json!({ "token": token, "extra": 1 }))).await.assert_problem(400);
}

#[tokio::test]
async fn with_require_verified_email_auto_approval_and_sign_in_wait_for_the_confirmation() {
    let s = stack();
    // require_verified_email is the v2 default.
    let portal = s.portal(json!({ "trusted_domains": ["acme.com"] })).await;
    let email = format!("v{}@acme.com", uuid::Uuid::new_v4().simple());
    let id = s.register_new(&portal, &email, "Waiting").await;
    let token = link_token(&s.wait_for_mail(&email, "Confirm your email", 1).await);
    s.settle().await;
    assert_eq!(s.developer(&portal, &id).await.body["state"], "pending", "not before the address is confirmed");
    assert_eq!(s.send(Method::POST, &format!("/portals/{portal}/verify-email"), None, Some(json!({ "token": token }))).await.status, 204);
    s.wait_for_mail(&email, "approved", 1).await;
    assert_eq!(s.developer(&portal, &id).await.body["state"], "approved");
    assert_eq!(login(&s, &portal, &email, STRONG_PASSWORD).await.status, 200);

    // An admin may approve an unconfirmed developer, who still cannot sign in until confirming:
    // the same generic 401 as a wrong password (v2).
    let other = unique_email("unconfirmed");
    let other_id = s.register_new(&portal, &other, "Unconfirmed").await;
    assert_eq!(s.set_state(&portal, &other_id, "approved").await.status, 200);
    let r = login(&s, &portal, &other, STRONG_PASSWORD).await;
    r.assert_problem(401);
    assert_eq!(r.body, login(&s, &portal, &other, "not the password at all").await.body);
}

#[tokio::test]
async fn a_trusted_domain_registration_waits_for_the_confirmed_address_even_with_require_verified_email_off() {
    let s = stack();
    let admin = unique_email("domain-admin");
    let portal = s.portal(json!({ "require_verified_email": false, "trusted_domains": ["acme.com"], "admin_emails": [admin] })).await;
    let email = format!("anyone{}@acme.com", uuid::Uuid::new_v4().simple());
    let id = s.register_new(&portal, &email, "Anyone").await;
    let token = link_token(&s.wait_for_mail(&email, "Confirm your email", 1).await);
    s.settle().await;
    assert_eq!(s.developer(&portal, &id).await.body["state"], "pending", "a domain proves nothing about an unconfirmed address");
    assert!(s.mails_about(&email, "approved").await.is_empty());
    assert_eq!(s.send(Method::POST, &format!("/portals/{portal}/verify-email"), None, Some(json!({ "token": token }))).await.status, 204);
    s.wait_for_mail(&email, "approved", 1).await;
    assert_eq!(s.developer(&portal, &id).await.body["state"], "approved");
}

#[tokio::test]
async fn with_require_verified_email_off_the_auto_approve_switch_still_acts_at_once() {
    let s = stack();
    let portal = s.portal(json!({ "require_verified_email": false, "auto_approve": true })).await;
    let email = unique_email("at-once");
    let id = s.register_new(&portal, &email, "At Once").await;
    s.wait_for_mail(&email, "approved", 1).await;
    assert_eq!(s.developer(&portal, &id).await.body["state"], "approved");
    assert_eq!(s.developer(&portal, &id).await.body["email_verified"], false);
    assert_eq!(login(&s, &portal, &email, STRONG_PASSWORD).await.status, 200, "nothing to confirm on this portal");
}

#[tokio::test]
async fn a_completed_reset_confirms_the_address_of_an_approved_developer() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let email = unique_email("unconfirmed-reset");
    let id = s.register_new(&portal, &email, "Late Confirmer").await;
    assert_eq!(s.set_state(&portal, &id, "approved").await.status, 200);
    login(&s, &portal, &email, STRONG_PASSWORD).await.assert_problem(401);
    reset(&s, &portal, &email).await;
    let token = link_token(&s.wait_for_mail(&email, "Reset your password", 1).await);
    assert_eq!(confirm(&s, &portal, &token, NEW_PASSWORD).await.status, 204);
    assert_eq!(s.developer(&portal, &id).await.body["email_verified"], true, "the reset link reached the address");
    assert_eq!(login(&s, &portal, &email, NEW_PASSWORD).await.status, 200);
}

#[tokio::test]
async fn a_portal_template_override_is_used_and_user_values_arrive_escaped_in_html() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let r = s
        .admin(
            Method::PATCH,
            &format!("/portals/{portal}"),
            Some(json!({ "settings": { "email_templates": { "approved": {
                "subject": "Welcome aboard, {{ developer_name }}",
                "html": "<h1>Hi {{ developer_name }}</h1><p>{{ portal_name }} says yes.</p>"
            } } } })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let email = unique_email("xss");
    let id = s.register_new(&portal, &email, "<script>alert(1)</script>").await;
    assert_eq!(s.set_state(&portal, &id, "approved").await.status, 200);
    let mail = s.wait_for_mail(&email, "Welcome aboard", 1).await;
    let body = mail[0]["body"].as_str().unwrap();
    assert!(body.starts_with("<h1>Hi &lt;script&gt;alert(1)&lt;"), "{body}");
    assert!(!body.contains("<script>"), "{body}");
    // Removing the override brings the default back.
    let r = s
        .admin(Method::PATCH, &format!("/portals/{portal}"), Some(json!({ "settings": { "email_templates": { "approved": null } } })))
        .await;
    assert_eq!(r.body["settings"]["email_templates"], json!({}));
}

#[tokio::test]
async fn a_template_with_an_unknown_placeholder_or_mail_is_refused_when_saved() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let r = s
        .admin(
            Method::PATCH,
            &format!("/portals/{portal}"),
            Some(json!({ "settings": { "email_templates": { "approved": { "subject": "Hi {{ frist_name }}" } } } })),
        )
        .await;
    r.assert_problem(400);
    assert_eq!(r.error_fields(), ["settings.email_templates.approved.subject"]);
    assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("frist_name"));
    let r = s
        .admin(
            Method::PATCH,
            &format!("/portals/{portal}"),
            Some(json!({ "settings": { "email_templates": { "welcome": { "subject": "Hi" } } } })),
        )
        .await;
    r.assert_problem(400);
    let r = s
        .admin(
            Method::PATCH,
            &format!("/portals/{portal}"),
            Some(json!({ "settings": { "email_templates": { "reset": { "subject": "Hi", "footer": "x" } } } })),
        )
        .await;
    r.assert_problem(400);
    let current = s.admin(Method::GET, &format!("/portals/{portal}"), None).await;
    assert_eq!(current.body["settings"]["email_templates"], json!({}), "nothing was saved");
}

//! Invites (registration links and one-time passwords) and developer sessions, through the
//! local API. Expiry is tested by moving the clock with a header, never by sleeping.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn invite(s: &Stack, portal: &str, emails: Value) -> Reply {
    s.admin(Method::POST, &format!("/portals/{portal}/developers/invites"), Some(json!({ "emails": emails }))).await
}

async fn accept(s: &Stack, portal: &str, token: &str, name: &str) -> Reply {
    s.send(
        Method::POST,
        &format!("/portals/{portal}/invites/accept"),
        None,
        Some(json!({ "token": token, "password": STRONG_PASSWORD, "name": name })),
    )
    .await
}

async fn login(s: &Stack, portal: &str, login: &str, password: &str) -> Reply {
    s.send(Method::POST, &format!("/portals/{portal}/login"), None, Some(json!({ "login": login, "password": password }))).await
}

async fn session_of(s: &Stack, portal: &str, login_: &str) -> String {
    let r = login(s, portal, login_, STRONG_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["token"].as_str().unwrap().to_string()
}

async fn me(s: &Stack, portal: &str, session: &str) -> Reply {
    s.send(Method::GET, &format!("/portals/{portal}/me"), Some(session), None).await
}

/// An approved developer with a confirmed address and a username, ready to log in.
async fn approved(s: &Stack, portal: &str) -> (String, String) {
    let username = unique_username("dev");
    let id = s.approved_developer(portal, &unique_email("dev"), Some(&username)).await;
    (id, username)
}

#[tokio::test]
async fn link_invites_mail_every_new_address_and_report_duplicates_and_existing_developers_per_address() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let existing = unique_email("existing");
    s.register_new(&portal, &existing, "Existing").await;
    let (a, b) = (unique_email("inv-a"), unique_email("inv-b"));
    let r = invite(&s, &portal, json!([a, b, a.to_uppercase(), existing])).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let statuses: Vec<&str> = r.body["invites"].as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["pending", "pending", "duplicate", "already_registered"]);
    let first = &r.body["invites"][0];
    assert!(first["id"].is_string() && first["expires_at"].is_string());
    assert_eq!(first["email"], a.as_str());

    let mail = s.wait_for_mail(&a, "invited", 1).await;
    assert!(link_token(&mail).starts_with("ghi_"));
    s.wait_for_mail(&b, "invited", 1).await;
    // Inviting a pending address again is reported, not fatal, and sends nothing new.
    let again = invite(&s, &portal, json!([a])).await;
    assert_eq!(again.body["invites"][0]["status"], "already_invited");
    let listed = s.admin(Method::GET, &format!("/portals/{portal}/invites?status=pending"), None).await;
    assert_eq!(listed.body["list"].as_array().unwrap().len(), 2);
    s.settle().await;
    assert_eq!(s.mails_to(&a).await.len(), 1);
}

#[tokio::test]
async fn accepting_an_invite_makes_an_approved_developer_and_the_link_works_once() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let email = unique_email("accept");
    invite(&s, &portal, json!([email])).await;
    let token = link_token(&s.wait_for_mail(&email, "invited", 1).await);
    let r = accept(&s, &portal, &token, "Invited Dev").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["state"], "approved");
    assert_eq!(r.body["email"], email.as_str());
    assert_eq!(r.body["email_verified"], true);
    accept(&s, &portal, &token, "Again").await.assert_problem(410);
    let accepted = s.admin(Method::GET, &format!("/portals/{portal}/invites?status=accepted"), None).await;
    assert_eq!(accepted.body["list"][0]["developer_id"], r.body["id"]);
    // The new developer can sign in at once.
    session_of(&s, &portal, &email).await;
    // A token of this portal is not valid on another portal.
    let other = s.portal(json!({})).await;
    let email2 = unique_email("elsewhere");
    invite(&s, &portal, json!([email2])).await;
    let token2 = link_token(&s.wait_for_mail(&email2, "invited", 1).await);
    accept(&s, &other, &token2, "Elsewhere").await.assert_problem(410);
}

#[tokio::test]
async fn a_withdrawn_or_tampered_invite_link_is_410() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let email = unique_email("withdrawn");
    let id = invite(&s, &portal, json!([email])).await.body["invites"][0]["id"].as_str().unwrap().to_string();
    let token = link_token(&s.wait_for_mail(&email, "invited", 1).await);
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    accept(&s, &portal, &tampered, "Tampered").await.assert_problem(410);
    assert_eq!(s.admin(Method::DELETE, &format!("/portals/{portal}/invites/{id}"), None).await.status, 204);
    accept(&s, &portal, &token, "Too Late").await.assert_problem(410);
    s.admin(Method::DELETE, &format!("/portals/{portal}/invites/{id}"), None).await.assert_problem(409);
    let listed = s.admin(Method::GET, &format!("/portals/{portal}/invites?status=withdrawn"), None).await;
    assert_eq!(listed.body["list"][0]["id"], id.as_str());
    // The address can be invited afresh.
    assert_eq!(invite(&s, &portal, json!([email])).await.body["invites"][0]["status"], "pending");
}

#[tokio::test]
async fn re_sending_an_invite_issues_a_new_link_and_expiry_and_kills_the_old_link() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let email = unique_email("resend");
    let created = invite(&s, &portal, json!([email])).await;
    let id = created.body["invites"][0]["id"].as_str().unwrap().to_string();
    let old = link_token(&s.wait_for_mail(&email, "invited", 1).await);
    let r = s.send_at(3600, Method::POST, &format!("/portals/{portal}/invites/{id}/resend"), Some(&s.admin_token), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_ne!(r.body["expires_at"], created.body["invites"][0]["expires_at"], "a new expiry");
    let new = link_token(&s.wait_for_mail(&email, "invited", 2).await);
    assert_ne!(old, new);
    accept(&s, &portal, &old, "Old").await.assert_problem(410);
    assert_eq!(accept(&s, &portal, &new, "New").await.status, 201);
    s.admin(Method::POST, &format!("/portals/{portal}/invites/{id}/resend"), None).await.assert_problem(409);
}

#[tokio::test]
async fn an_invite_expires_after_invite_ttl_seconds() {
    let s = stack();
    let portal = s.portal(json!({ "invite_ttl_seconds": 3600 })).await;
    let email = unique_email("expiry");
    invite(&s, &portal, json!([email])).await;
    let token = link_token(&s.wait_for_mail(&email, "invited", 1).await);
    let body = json!({ "token": token, "password": STRONG_PASSWORD, "name": "Late" });
    let late = s.send_at(3601, Method::POST, &format!("/portals/{portal}/invites/accept"), None, Some(body.clone())).await;
    late.assert_problem(410);
    assert!(late.body["detail"].as_str().unwrap().contains("expired"));
    let listed = s.send_at(3601, Method::GET, &format!("/portals/{portal}/invites?status=expired"), Some(&s.admin_token), None).await;
    assert_eq!(listed.body["list"].as_array().unwrap().len(), 1);
    let in_time = s.send_at(3500, Method::POST, &format!("/portals/{portal}/invites/accept"), None, Some(body)).await;
    assert_eq!(in_time.status, 201, "{}", in_time.body);
}

#[tokio::test]
async fn with_invite_email_off_link_invites_are_403_and_password_invites_still_work() {
    let s = stack();
    let portal = s.portal(json!({ "invite_email": false })).await;
    let r = invite(&s, &portal, json!([unique_email("off")])).await;
    r.assert_problem(403);
    assert!(r.body["detail"].as_str().unwrap().contains("invite_email"));
    let username = unique_username("otp");
    let r = s
        .admin(
            Method::POST,
            &format!("/portals/{portal}/developers/invites"),
            Some(json!({ "username": username, "password": "temporary-password-123", "name": "John Doe" })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["state"], "approved");
    assert_eq!(r.body["must_change_password"], true);
}

#[tokio::test]
async fn a_one_time_password_session_can_read_me_change_the_password_or_log_out_and_nothing_else() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let username = unique_username("otp");
    let otp = "temporary-password-123";
    let r = s
        .admin(
            Method::POST,
            &format!("/portals/{portal}/developers/invites"),
            Some(json!({ "username": username, "password": otp, "name": "John Doe", "email": unique_email("otp") })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = login(&s, &portal, &username, otp).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["developer"]["must_change_password"], true);
    let session = r.body["token"].as_str().unwrap().to_string();
    assert_eq!(me(&s, &portal, &session).await.status, 200);
    s.send(Method::GET, &format!("/portals/{portal}/applications"), Some(&session), None).await.assert_problem(403);
    // v2: such a session may also sign out.
    let other = login(&s, &portal, &username, otp).await.body["token"].as_str().unwrap().to_string();
    assert_eq!(s.send(Method::POST, &format!("/portals/{portal}/logout"), Some(&other), None).await.status, 204);
    me(&s, &portal, &other).await.assert_problem(401);
    let weak = s
        .send(
            Method::POST,
            &format!("/portals/{portal}/me/password"),
            Some(&session),
            Some(json!({ "current_password": otp, "new_password": "password1" })),
        )
        .await;
    weak.assert_problem(400);
    assert_eq!(weak.error_fields(), ["new_password"]);
    let wrong = s
        .send(
            Method::POST,
            &format!("/portals/{portal}/me/password"),
            Some(&session),
            Some(json!({ "current_password": "not it at all", "new_password": STRONG_PASSWORD })),
        )
        .await;
    wrong.assert_problem(400);
    let ok = s
        .send(
            Method::POST,
            &format!("/portals/{portal}/me/password"),
            Some(&session),
            Some(json!({ "current_password": otp, "new_password": STRONG_PASSWORD })),
        )
        .await;
    assert_eq!(ok.status, 204, "{}", ok.body);
    assert_eq!(me(&s, &portal, &session).await.body["must_change_password"], false, "this session lives on");
    login(&s, &portal, &username, otp).await.assert_problem(401);
    assert_eq!(login(&s, &portal, &username, STRONG_PASSWORD).await.status, 200);
}

#[tokio::test]
async fn a_one_time_password_stops_working_after_its_ttl() {
    let s = stack();
    let portal = s.portal(json!({ "temporary_password_ttl_seconds": 3600 })).await;
    let username = unique_username("ttl");
    let otp = "temporary-password-123";
    s.admin(
        Method::POST,
        &format!("/portals/{portal}/developers/invites"),
        Some(json!({ "username": username, "password": otp, "name": "Ttl" })),
    )
    .await;
    let body = json!({ "login": username, "password": otp });
    assert_eq!(s.send_at(3500, Method::POST, &format!("/portals/{portal}/login"), None, Some(body.clone())).await.status, 200);
    let late = s.send_at(3601, Method::POST, &format!("/portals/{portal}/login"), None, Some(body)).await;
    late.assert_problem(401);
    assert!(late.body["detail"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn login_works_with_email_or_username_and_failures_share_one_generic_answer() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let email = unique_email("login");
    let username = unique_username("login");
    let id = s.approved_developer(&portal, &email, Some(&username)).await;
    for l in [email.to_uppercase(), username.clone()] {
        let r = login(&s, &portal, &l, STRONG_PASSWORD).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body["token"].as_str().unwrap().starts_with("ghs_"));
        assert!(r.body["expires_at"].is_string());
        assert_eq!(r.body["developer"]["id"], id.as_str());
        assert!(r.body["developer"]["last_active_at"].is_string());
    }
    let wrong = login(&s, &portal, &username, "not the password at all").await;
    let unknown = login(&s, &portal, "nobody-here", "not the password at all").await;
    wrong.assert_problem(401);
    unknown.assert_problem(401);
    assert_eq!(wrong.body, unknown.body, "no way to tell a wrong password from an unknown login");
    login(&s, &portal, "", "x").await.assert_problem(400);
    let r = s
        .send(
            Method::POST,
            &format!("/portals/{portal}/login"),
            None,
            Some(json!({ "login": username, "password": "x", "remember": true })),
        )
        .await;
    r.assert_problem(400);
}

#[tokio::test]
async fn a_right_password_on_a_confirmed_account_that_is_not_approved_is_403_naming_the_state() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    for state in ["pending", "rejected", "revoked"] {
        let email = unique_email(state);
        let id = s.register_new(&portal, &email, "State").await;
        s.confirm_address(&portal, &email).await;
        if state == "revoked" {
            s.set_state(&portal, &id, "approved").await;
        }
        if state != "pending" {
            assert_eq!(s.set_state(&portal, &id, state).await.status, 200);
        }
        let r = login(&s, &portal, &email, STRONG_PASSWORD).await;
        r.assert_problem(403);
        assert!(r.body["detail"].as_str().unwrap().contains(state), "{}", r.body);
    }
}

#[tokio::test]
async fn until_the_address_is_confirmed_the_right_password_answers_the_same_401_as_a_wrong_one() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let email = unique_email("unconfirmed");
    let id = s.register_new(&portal, &email, "Unconfirmed").await;
    let right = login(&s, &portal, &email, STRONG_PASSWORD).await;
    let wrong = login(&s, &portal, &email, "not the password at all").await;
    right.assert_problem(401);
    assert_eq!(right.body, wrong.body, "a fresh registration looks like a wrong password");
    // Approving does not skip the confirmation; confirming does.
    assert_eq!(s.set_state(&portal, &id, "approved").await.status, 200);
    login(&s, &portal, &email, STRONG_PASSWORD).await.assert_problem(401);
    s.confirm_address(&portal, &email).await;
    assert_eq!(login(&s, &portal, &email, STRONG_PASSWORD).await.status, 200);
}

#[tokio::test]
async fn register_then_login_tells_a_new_address_from_a_registered_one_by_nothing() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let taken = unique_email("taken");
    s.approved_developer(&portal, &taken, None).await;
    let fresh = unique_email("fresh");
    let probe_password = "an attacker's new passphrase";
    let mut answers = Vec::new();
    for email in [&taken, &fresh] {
        let r = s.register(&portal, json!({ "email": email, "password": probe_password, "name": "Probe" })).await;
        assert_eq!(r.status, 202, "{}", r.body);
        answers.push(login(&s, &portal, email, probe_password).await);
    }
    answers[0].assert_problem(401);
    answers[1].assert_problem(401);
    assert_eq!(answers[0].body, answers[1].body);
}

#[tokio::test]
async fn invited_and_one_time_password_developers_sign_in_without_a_verification_link() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let email = unique_email("invited");
    invite(&s, &portal, json!([email])).await;
    let token = link_token(&s.wait_for_mail(&email, "invited", 1).await);
    assert_eq!(accept(&s, &portal, &token, "Invited").await.status, 201);
    assert_eq!(login(&s, &portal, &email, STRONG_PASSWORD).await.status, 200, "the invite confirmed the address");
    for with_email in [true, false] {
        let username = unique_username("otp");
        let mut body = json!({ "username": username, "password": "temporary-password-123", "name": "John Doe" });
        if with_email {
            body["email"] = json!(unique_email("otp"));
        }
        let r = s.admin(Method::POST, &format!("/portals/{portal}/developers/invites"), Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(login(&s, &portal, &username, "temporary-password-123").await.status, 200, "email given: {with_email}");
    }
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_and_logout_ends_this_one() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let (_, username) = approved(&s, &portal).await;
    let a = session_of(&s, &portal, &username).await;
    let b = session_of(&s, &portal, &username).await;
    let r = s
        .send(
            Method::POST,
            &format!("/portals/{portal}/me/password"),
            Some(&a),
            Some(json!({ "current_password": STRONG_PASSWORD, "new_password": "a different strong passphrase" })),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(me(&s, &portal, &a).await.status, 200);
    me(&s, &portal, &b).await.assert_problem(401);
    assert_eq!(s.send(Method::POST, &format!("/portals/{portal}/logout"), Some(&a), None).await.status, 204);
    me(&s, &portal, &a).await.assert_problem(401);
    me(&s, &portal, "ghs_garbage").await.assert_problem(401);
    s.send(Method::GET, &format!("/portals/{portal}/me"), None, None).await.assert_problem(401);
}

#[tokio::test]
async fn a_password_change_mails_the_developer_unless_password_changed_email_is_off() {
    let s = stack();
    for on in [true, false] {
        let portal = s.portal(json!({ "password_changed_email": on })).await;
        let email = unique_email("changed");
        s.approved_developer(&portal, &email, None).await;
        let session = session_of(&s, &portal, &email).await;
        let body = json!({ "current_password": STRONG_PASSWORD, "new_password": "a different strong passphrase" });
        let r = s.send(Method::POST, &format!("/portals/{portal}/me/password"), Some(&session), Some(body)).await;
        assert_eq!(r.status, 204, "{}", r.body);
        if on {
            let mail = s.wait_for_mail(&email, "has been changed", 1).await;
            assert!(mail[0]["body"].as_str().unwrap().contains("If this was not you"), "{}", mail[0]);
        } else {
            s.settle().await;
            assert!(s.mails_about(&email, "has been changed").await.is_empty());
        }
    }
}

#[tokio::test]
async fn revoking_or_deleting_a_developer_ends_all_their_sessions_and_re_approval_does_not_revive_them() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let (id, username) = approved(&s, &portal).await;
    let a = session_of(&s, &portal, &username).await;
    let b = session_of(&s, &portal, &username).await;
    assert_eq!(s.set_state(&portal, &id, "revoked").await.status, 200);
    me(&s, &portal, &a).await.assert_problem(401);
    me(&s, &portal, &b).await.assert_problem(401);
    assert_eq!(s.set_state(&portal, &id, "approved").await.status, 200);
    me(&s, &portal, &a).await.assert_problem(401);
    let c = session_of(&s, &portal, &username).await;
    assert_eq!(me(&s, &portal, &c).await.status, 200);
    // A session is bound to its portal.
    let other = s.portal(json!({})).await;
    me(&s, &other, &c).await.assert_problem(401);
    assert_eq!(s.admin(Method::DELETE, &format!("/portals/{portal}/developers/{id}"), None).await.status, 204);
    me(&s, &portal, &c).await.assert_problem(401);
}

/// The local stack runs with the default session lifetime (GATEHOUSE_SESSION_TTL_SECONDS).
const SESSION_TTL_SECONDS: i64 = 43_200;

#[tokio::test]
async fn a_session_expires_after_its_lifetime() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let (_, username) = approved(&s, &portal).await;
    let r = login(&s, &portal, &username, STRONG_PASSWORD).await;
    let token = r.body["token"].as_str().unwrap();
    assert_eq!(s.send_at(SESSION_TTL_SECONDS - 60, Method::GET, &format!("/portals/{portal}/me"), Some(token), None).await.status, 200);
    s.send_at(SESSION_TTL_SECONDS + 60, Method::GET, &format!("/portals/{portal}/me"), Some(token), None).await.assert_problem(401);
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_with_retry_after_for_one_window_only() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let (_, username) = approved(&s, &portal).await;
    for _ in 0..5 {
        login(&s, &portal, &username, "wrong wrong wrong").await.assert_problem(401);
    }
    let held = login(&s, &portal, &username, STRONG_PASSWORD).await;
    held.assert_problem(429);
    let retry: u64 = held.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Another account is not affected, and the window ends.
    let (_, other) = approved(&s, &portal).await;
    assert_eq!(login(&s, &portal, &other, STRONG_PASSWORD).await.status, 200);
    let later = s
        .send_at(
            900,
            Method::POST,
            &format!("/portals/{portal}/login"),
            None,
            Some(json!({ "login": username, "password": STRONG_PASSWORD })),
        )
        .await;
    assert_eq!(later.status, 200, "{}", later.body);
}

#[tokio::test]
async fn invite_routes_refuse_bad_input_and_missing_admin_tokens() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let r = invite(&s, &portal, json!(["fine@example.com", "not-an-email"])).await;
    r.assert_problem(400);
    assert_eq!(r.error_fields(), ["emails[1]"]);
    invite(&s, &portal, json!([])).await.assert_problem(400);
    let r = s
        .admin(Method::POST, &format!("/portals/{portal}/developers/invites"), Some(json!({ "emails": ["a@example.com"], "role": "x" })))
        .await;
    r.assert_problem(400);
    let r = s
        .send_raw(
            Method::POST,
            &format!("/portals/{portal}/developers/invites"),
            Some(&s.admin_token),
            "application/json",
            b"{\"emails\": [".to_vec(),
        )
        .await;
    r.assert_problem(400);
    let r = s
        .admin(
            Method::POST,
            &format!("/portals/{portal}/developers/invites"),
            Some(json!({ "username": "x", "password": "short", "name": "" })),
        )
        .await;
    r.assert_problem(400);
    assert_eq!(r.error_fields(), ["username", "name", "password"]);
    let big = json!({ "emails": vec!["x".repeat(1000); 70] });
    s.admin(Method::POST, &format!("/portals/{portal}/developers/invites"), Some(big)).await.assert_problem(413);
    let fake = uuid::Uuid::new_v4();
    for (m, p) in [
        (Method::POST, format!("/portals/{portal}/developers/invites")),
        (Method::GET, format!("/portals/{portal}/invites")),
        (Method::DELETE, format!("/portals/{portal}/invites/{fake}")),
        (Method::POST, format!("/portals/{portal}/invites/{fake}/resend")),
    ] {
        s.send(m.clone(), &p, None, Some(json!({ "emails": ["a@example.com"] }))).await.assert_problem(401);
        s.send(m, &p, Some("gha_wrong"), Some(json!({ "emails": ["a@example.com"] }))).await.assert_problem(401);
    }
    let r = s
        .send(
            Method::POST,
            &format!("/portals/{portal}/invites/accept"),
            None,
            Some(json!({ "token": "ghi_nope", "password": STRONG_PASSWORD, "name": "X" })),
        )
        .await;
    r.assert_problem(410);
    let r = s
        .send(
            Method::POST,
            &format!("/portals/{portal}/invites/accept"),
            None,
            Some(json!({ "token": "ghi_nope", "password": "weak", "name": "X" })),
        )
        .await;
    r.assert_problem(400);
}

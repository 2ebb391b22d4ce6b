//! Admin authentication on every admin route, and portal isolation for scoped tokens.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

fn admin_routes(portal: &str, developer: &str, approval: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::POST, "/portals".into(), Some(json!({ "name": "X" }))),
        (Method::GET, format!("/portals/{portal}"), None),
        (Method::PATCH, format!("/portals/{portal}"), Some(json!({ "name": "Y" }))),
        (Method::GET, format!("/portals/{portal}/developers"), None),
        (Method::GET, format!("/portals/{portal}/developers/{developer}"), None),
        (Method::PATCH, format!("/portals/{portal}/developers/{developer}"), Some(json!({ "status": "approved" }))),
        (Method::DELETE, format!("/portals/{portal}/developers/{developer}"), None),
        (Method::GET, "/approvals?event=developer_registration&status=pending".into(), None),
        (Method::POST, format!("/approvals/{approval}/accept"), None),
        (Method::POST, format!("/approvals/{approval}/reject"), None),
    ]
}

#[tokio::test]
async fn every_admin_route_is_401_without_a_token_or_with_a_wrong_one_and_changes_nothing() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let dev = s.register_new(&portal, &unique_email("auth"), "Auth").await;
    let approval = s.approval_of(&portal, &dev).await["id"].as_str().unwrap().to_string();
    for (method, path, body) in admin_routes(&portal, &dev, &approval) {
        for token in [None, Some("gha_wrong"), Some(""), Some(&s.admin_token[..s.admin_token.len() - 1])] {
            let r = s.send(method.clone(), &path, token, body.clone()).await;
            r.assert_problem(401);
            assert!(r.headers.get("www-authenticate").is_some(), "{method} {path}");
        }
        // Not a bearer scheme at all.
        let r = s
            .http
            .request(method.clone(), format!("{}{}", s.api, path))
            .header("authorization", format!("Basic {}", s.admin_token))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path}");
    }
    let d = s.developer(&portal, &dev).await;
    assert_eq!(d.body["state"], "pending", "nothing changed");
}

#[tokio::test]
async fn a_token_scoped_to_one_portal_sees_nothing_of_another() {
    let s = stack();
    let mine = s.portal(json!({})).await;
    let theirs = s.portal(json!({})).await;
    let token = s.ops(&["mint-admin-token", "--name", "scoped-test", "--portal", &mine]);
    assert!(token.starts_with("gha_"));
    let my_dev = s.register_new(&mine, &unique_email("mine"), "Mine").await;
    let their_dev = s.register_new(&theirs, &unique_email("theirs"), "Theirs").await;
    let their_approval = s.approval_of(&theirs, &their_dev).await["id"].as_str().unwrap().to_string();

    let ok = s.send(Method::GET, &format!("/portals/{mine}/developers/{my_dev}"), Some(&token), None).await;
    assert_eq!(ok.status, 200);
    for (method, path, body) in admin_routes(&theirs, &their_dev, &their_approval).into_iter().skip(1) {
        let r = s.send(method.clone(), &path, Some(&token), body).await;
        if path.starts_with("/approvals?") {
            // Listing without portal_id is limited to the token's own portal.
            assert_eq!(r.status, 200);
            assert!(r.body["list"].as_array().unwrap().iter().all(|a| a["portal_id"] == mine.as_str()), "{}", r.body);
        } else {
            r.assert_problem(404);
        }
    }
    let r = s.send(Method::GET, &format!("/approvals?portal_id={theirs}"), Some(&token), None).await;
    r.assert_problem(404);
    let r = s.send(Method::POST, "/portals", Some(&token), Some(json!({ "name": "Nope" }))).await;
    r.assert_problem(403);
    assert_eq!(s.developer(&theirs, &their_dev).await.body["state"], "pending");
}

#[tokio::test]
async fn a_scoped_token_gets_404_on_another_portals_teams_invites_and_applications() {
    let s = stack();
    let mine = s.portal(json!({})).await;
    let theirs = s.portal(json!({})).await;
    let token = s.ops(&["mint-admin-token", "--name", "scoped-test-2", "--portal", &mine]);
    let dev = s.register_new(&theirs, &unique_email("theirs"), "Theirs").await;
    let team = s.admin(Method::POST, &format!("/portals/{theirs}/teams"), Some(json!({ "name": "Theirs" }))).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let invite = s
        .admin(Method::POST, &format!("/portals/{theirs}/developers/invites"), Some(json!({ "emails": [unique_email("inv")] })))
        .await
        .body["invites"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (method, path, body) in [
        (Method::POST, format!("/portals/{theirs}/teams"), Some(json!({ "name": "Mine now" }))),
        (Method::GET, format!("/portals/{theirs}/teams"), None),
        (Method::POST, format!("/portals/{theirs}/teams/{team}/developers"), Some(json!({ "id": dev }))),
        (Method::GET, format!("/portals/{theirs}/teams/{team}/developers"), None),
        (Method::DELETE, format!("/portals/{theirs}/teams/{team}/developers/{dev}"), None),
        (Method::POST, format!("/portals/{theirs}/developers/invites"), Some(json!({ "emails": [unique_email("x")] }))),
        (Method::GET, format!("/portals/{theirs}/invites"), None),
        (Method::DELETE, format!("/portals/{theirs}/invites/{invite}"), None),
        (Method::POST, format!("/portals/{theirs}/invites/{invite}/resend"), None),
        (Method::GET, format!("/portals/{theirs}/developers/{dev}/applications"), None),
    ] {
        let r = s.send(method.clone(), &path, Some(&token), body).await;
        r.assert_problem(404);
        assert!(!r.body.to_string().contains(&dev), "{method} {path} leaks nothing");
    }
    // Their data is untouched.
    let invites = s.admin(Method::GET, &format!("/portals/{theirs}/invites?status=pending"), None).await;
    assert_eq!(invites.body["list"].as_array().unwrap().len(), 1);
    assert_eq!(s.developer(&theirs, &dev).await.body["teams"], json!([]));
}

#[tokio::test]
async fn an_admin_token_minted_with_expires_in_answers_401_once_expired() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let token = s.ops(&["mint-admin-token", "--name", &unique_username("expiring"), "--expires-in", "1h"]);
    let path = format!("/portals/{portal}/invites");
    assert_eq!(s.send_at(3500, Method::GET, &path, Some(&token), None).await.status, 200);
    let late = s.send_at(3601, Method::GET, &path, Some(&token), None).await;
    late.assert_problem(401);
    assert!(late.headers.get("www-authenticate").is_some());
    // A token without --expires-in keeps working.
    assert_eq!(s.send_at(10 * 365 * 86_400, Method::GET, &path, Some(&s.admin_token), None).await.status, 200);
}

#[tokio::test]
async fn admin_tokens_are_listed_without_secrets_and_a_revoked_one_answers_401() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let name = unique_username("revocable");
    let token = s.ops(&["mint-admin-token", "--name", &name, "--portal", &portal, "--expires-in", "30d"]);
    let path = format!("/portals/{portal}/developers");
    assert_eq!(s.send(Method::GET, &path, Some(&token), None).await.status, 200);
    let listing = s.ops(&["list-admin-tokens"]);
    assert!(listing.lines().next().unwrap().starts_with("id\tname\tscope"), "{listing}");
    let line = listing.lines().find(|l| l.contains(&name)).unwrap_or_else(|| panic!("{name} is listed: {listing}"));
    let cols: Vec<&str> = line.split('\t').collect();
    assert_eq!((cols[1], cols[2], cols[5]), (name.as_str(), portal.as_str(), "active"), "{line}");
    assert_ne!(cols[4], "never");
    assert!(!listing.contains(&token) && !listing.contains(&gatehouse_token_hash(&token)), "no token or hash is ever printed");
    s.ops(&["revoke-admin-token", cols[0]]);
    let r = s.send(Method::GET, &path, Some(&token), None).await;
    r.assert_problem(401);
    assert!(!s.ops(&["list-admin-tokens"]).contains(&name));
    assert_eq!(s.send(Method::GET, &path, Some(&s.admin_token), None).await.status, 200, "other tokens keep working");
}

fn gatehouse_token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

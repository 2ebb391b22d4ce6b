//! The approval lifecycle through the admin API: every transition allowed and forbidden,
//! approvals accepted and rejected, reject_action delete, re-approval, delete with cascade.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

/// A developer driven into `state` through allowed transitions only.
async fn developer_in(s: &Stack, portal: &str, state: &str) -> String {
    let id = s.register_new(portal, &unique_email(state), "Lifecycle").await;
    let path: &[&str] = match state {
        "pending" => &[],
        "approved" => &["approved"],
        "rejected" => &["rejected"],
        "revoked" => &["approved", "revoked"],
        _ => unreachable!(),
    };
    for step in path {
        let r = s.set_state(portal, &id, step).await;
        assert_eq!(r.status, 200, "{step}: {}", r.body);
    }
    id
}

#[tokio::test]
async fn every_transition_the_lifecycle_allows_succeeds_and_every_other_is_409() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let states = ["pending", "approved", "rejected", "revoked"];
    let allowed = [
        ("pending", "approved"),
        ("pending", "rejected"),
        ("approved", "revoked"),
        ("rejected", "approved"),
        ("revoked", "approved"),
        ("rejected", "pending"),
        ("revoked", "pending"),
    ];
    for from in states {
        for to in states {
            let id = developer_in(&s, &portal, from).await;
            let r = s.set_state(&portal, &id, to).await;
            if allowed.contains(&(from, to)) {
                assert_eq!(r.status, 200, "{from} -> {to}: {}", r.body);
                assert_eq!(r.body["state"], to);
                assert_eq!(s.developer(&portal, &id).await.body["state"], to);
            } else {
                r.assert_problem(409);
                assert_eq!(s.developer(&portal, &id).await.body["state"], from, "{from} -> {to} changed nothing");
            }
        }
    }
    // The counters moved with every change: totals per state match the lists.
    for st in states {
        let r = s.list(&portal, &format!("state={st}&limit=100")).await;
        assert_eq!(r.body["total"].as_u64().unwrap() as usize, r.body["list"].as_array().unwrap().len(), "{st}");
    }
}

#[tokio::test]
async fn patch_accepts_state_as_well_as_status_and_renames() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let id = s.register_new(&portal, &unique_email("p"), "Old Name").await;
    let r = s
        .admin(Method::PATCH, &format!("/portals/{portal}/developers/{id}"), Some(json!({ "state": "Approved", "name": "New Name" })))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["state"], "approved");
    assert_eq!(r.body["name"], "New Name");
    let r = s.admin(Method::PATCH, &format!("/portals/{portal}/developers/{id}"), Some(json!({ "status": "deleted" }))).await;
    r.assert_problem(400);
    assert_eq!(r.error_fields(), ["status"]);
    let r = s.admin(Method::PATCH, &format!("/portals/{portal}/developers/{id}"), Some(json!({ "status": "revoked", "role": "x" }))).await;
    r.assert_problem(400);
}

#[tokio::test]
async fn accepting_an_approval_approves_the_developer_and_mails_them_once() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let email = unique_email("accept");
    let id = s.register_new(&portal, &email, "Accepted Dev").await;
    let approval = s.approval_of(&portal, &id).await;
    let r = s.admin(Method::POST, &format!("/approvals/{}/accept", approval["id"].as_str().unwrap()), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "accepted");
    assert!(r.body["decided_at"].is_string() && r.body["decided_by"].is_string());
    assert_eq!(s.developer(&portal, &id).await.body["state"], "approved");

    let again = s.admin(Method::POST, &format!("/approvals/{}/reject", approval["id"].as_str().unwrap()), None).await;
    again.assert_problem(409);
    assert_eq!(s.developer(&portal, &id).await.body["state"], "approved");

    let mail = s.wait_for_mail(&email, "approved", 1).await;
    assert!(mail[0]["body"].as_str().unwrap().contains("Accepted Dev"));
    s.settle().await;
    assert_eq!(s.mails_about(&email, "approved").await.len(), 1, "exactly one approval mail");
    assert!(s.approval_of(&portal, &id).await.is_null(), "no longer listed as pending");
    let accepted = s.admin(Method::GET, &format!("/approvals?status=accepted&portal_id={portal}"), None).await;
    assert_eq!(accepted.body["list"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn rejecting_an_approval_keeps_a_rejected_account_by_default() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let email = unique_email("reject");
    let id = s.register_new(&portal, &email, "Rejected Dev").await;
    let approval = s.approval_of(&portal, &id).await;
    let r = s.admin(Method::POST, &format!("/approvals/{}/reject", approval["id"].as_str().unwrap()), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "rejected");
    assert_eq!(s.developer(&portal, &id).await.body["state"], "rejected");
    s.settle().await;
    assert!(s.mails_about(&email, "approved").await.is_empty(), "a rejection sends no approval mail");
}

#[tokio::test]
async fn reject_action_delete_removes_the_account_on_rejection() {
    let s = stack();
    let portal = s.portal(json!({ "reject_action": "delete" })).await;
    let email = unique_email("gone");
    let username = unique_username("gone");
    let r = s.register(&portal, json!({ "email": email, "password": STRONG_PASSWORD, "name": "Gone", "username": username })).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let approval = s.approval_of(&portal, &id).await;
    let r = s.admin(Method::POST, &format!("/approvals/{}/reject", approval["id"].as_str().unwrap()), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "rejected");
    assert_eq!(s.developer(&portal, &id).await.status, 404);
    assert_eq!(s.list(&portal, "").await.body["total"], 0);
    // The address and username are free again.
    let again = s.register(&portal, json!({ "email": email, "password": STRONG_PASSWORD, "name": "Back", "username": username })).await;
    assert_eq!(again.status, 202);
    assert_eq!(s.developer(&portal, again.body["id"].as_str().unwrap()).await.status, 200);

    // PATCH to rejected follows the same setting.
    let id = s.register_new(&portal, &unique_email("gone2"), "Gone Too").await;
    let r = s.set_state(&portal, &id, "rejected").await;
    assert_eq!(r.status, 200);
    assert_eq!(s.developer(&portal, &id).await.status, 404);
}

#[tokio::test]
async fn a_revoked_developer_can_be_reapproved_and_is_mailed_again() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let email = unique_email("again");
    let id = s.register_new(&portal, &email, "Comeback").await;
    assert_eq!(s.set_state(&portal, &id, "approved").await.status, 200);
    assert_eq!(s.set_state(&portal, &id, "revoked").await.status, 200);
    assert_eq!(s.set_state(&portal, &id, "approved").await.body["state"], "approved");
    s.wait_for_mail(&email, "approved", 2).await;
}

#[tokio::test]
async fn sending_a_developer_back_to_pending_opens_a_new_approval_request() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let id = s.register_new(&portal, &unique_email("back"), "Back").await;
    let first = s.approval_of(&portal, &id).await;
    assert_eq!(s.set_state(&portal, &id, "rejected").await.status, 200);
    assert!(s.approval_of(&portal, &id).await.is_null());
    assert_eq!(s.set_state(&portal, &id, "pending").await.status, 200);
    let second = s.approval_of(&portal, &id).await;
    assert_eq!(second["status"], "pending");
    assert_ne!(second["id"], first["id"]);
    let old = s.admin(Method::POST, &format!("/approvals/{}/accept", first["id"].as_str().unwrap()), None).await;
    old.assert_problem(409);
}

#[tokio::test]
async fn no_approval_mail_is_sent_when_approved_email_is_off() {
    let s = stack();
    let portal = s.portal(json!({ "approved_email": false })).await;
    let email = unique_email("silent");
    let id = s.register_new(&portal, &email, "Silent").await;
    assert_eq!(s.set_state(&portal, &id, "approved").await.status, 200);
    s.settle().await;
    assert!(s.mails_about(&email, "approved").await.is_empty());
}

#[tokio::test]
async fn deleting_a_developer_removes_it_with_its_approval_and_frees_its_email_and_username() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let email = unique_email("del");
    let username = unique_username("del");
    let r = s.register(&portal, json!({ "email": email, "password": STRONG_PASSWORD, "name": "Del", "username": username })).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(!s.approval_of(&portal, &id).await.is_null());
    let r = s.admin(Method::DELETE, &format!("/portals/{portal}/developers/{id}"), None).await;
    assert_eq!(r.status, 204);
    assert_eq!(s.developer(&portal, &id).await.status, 404);
    assert!(s.approval_of(&portal, &id).await.is_null(), "its approval request is gone");
    assert_eq!(s.list(&portal, "").await.body["total"], 0);
    assert_eq!(s.list(&portal, "state=pending").await.body["total"], 0);
    assert_eq!(s.admin(Method::DELETE, &format!("/portals/{portal}/developers/{id}"), None).await.status, 404);
    let again = s.register(&portal, json!({ "email": email, "password": STRONG_PASSWORD, "name": "Del", "username": username })).await;
    assert_eq!(again.status, 202);
    assert_eq!(s.list(&portal, "").await.body["total"], 1);
}

#[tokio::test]
async fn an_unknown_developer_or_approval_is_404() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let nobody = uuid::Uuid::new_v4();
    s.developer(&portal, &nobody.to_string()).await.assert_problem(404);
    s.developer(&portal, "not-a-uuid").await.assert_problem(404);
    s.set_state(&portal, &nobody.to_string(), "approved").await.assert_problem(404);
    s.admin(Method::POST, &format!("/approvals/{nobody}/accept"), None).await.assert_problem(404);
    // A developer of another portal is not found through this one.
    let other = s.portal(json!({})).await;
    let id = s.register_new(&other, &unique_email("other"), "Other").await;
    s.developer(&portal, &id).await.assert_problem(404);
}

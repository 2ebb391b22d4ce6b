//! Admin listing (filters, exact totals, cursors, prefix search), portals and their settings,
//! and auto-approval by the stream consumer.

mod common;

use std::collections::HashSet;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn paging_through_120_developers_has_no_duplicates_or_gaps_and_an_exact_total() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let mut registered = HashSet::new();
    for chunk in (0..120).collect::<Vec<_>>().chunks(6) {
        let ids = futures::future::join_all(chunk.iter().map(|i| {
            let s = &s;
            let portal = &portal;
            async move { s.register_new(portal, &unique_email(&format!("page{i}")), &format!("Dev {i}")).await }
        }))
        .await;
        registered.extend(ids);
    }
    assert_eq!(registered.len(), 120);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("limit=25&cursor={c}"),
            None => "limit=25".into(),
        };
        let r = s.list(&portal, &q).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["total"], 120);
        pages += 1;
        for d in r.body["list"].as_array().unwrap() {
            seen.push(d["id"].as_str().unwrap().to_string());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 5, "25 + 25 + 25 + 25 + 20, no empty last page");
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 120, "no duplicates");
    assert_eq!(unique, registered, "no gaps");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "oldest first (ids are time-ordered)");
}

#[tokio::test]
async fn the_state_filter_takes_any_case_and_the_aliases_with_exact_totals() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(s.register_new(&portal, &unique_email(&format!("f{i}")), "F").await);
    }
    for id in &ids[..2] {
        assert_eq!(s.set_state(&portal, id, "approved").await.status, 200);
    }
    assert_eq!(s.set_state(&portal, &ids[2], "rejected").await.status, 200);
    for (q, total) in [
        ("state=pending", 2),
        ("state=Requested", 2),
        ("state=APPROVED", 2),
        ("state=active", 2),
        ("state=rejected", 1),
        ("state=revoked", 0),
        ("", 5),
    ] {
        let r = s.list(&portal, q).await;
        assert_eq!(r.status, 200, "{q}");
        assert_eq!(r.body["total"], total, "{q}");
        assert_eq!(r.body["list"].as_array().unwrap().len(), total, "{q}");
    }
    let r = s.list(&portal, "state=pending&limit=1").await;
    assert_eq!(r.body["total"], 2);
    assert_eq!(r.body["list"].as_array().unwrap().len(), 1);
    assert!(r.body["next_cursor"].is_string());
    s.list(&portal, "state=bogus").await.assert_problem(400);
    s.list(&portal, "limit=0").await.assert_problem(400);
    s.list(&portal, "limit=101").await.assert_problem(400);
}

#[tokio::test]
async fn the_q_prefix_matches_email_username_or_name_case_insensitively() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let by_email =
        s.register(&portal, json!({ "email": format!("zed{tag}@example.com"), "password": STRONG_PASSWORD, "name": "Alpha" })).await;
    let by_user = s
        .register(
            &portal,
            json!({ "email": unique_email("u"), "password": STRONG_PASSWORD, "name": "Beta", "username": format!("Zed{tag}x") }),
        )
        .await;
    let by_name =
        s.register(&portal, json!({ "email": unique_email("n"), "password": STRONG_PASSWORD, "name": format!("ZED{tag} Gamma") })).await;
    s.register_new(&portal, &unique_email("other"), "Other").await;
    let r = s.list(&portal, &format!("q=zEd{tag}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["total"], 3);
    let found: HashSet<Value> = r.body["list"].as_array().unwrap().iter().map(|d| d["id"].clone()).collect();
    assert_eq!(found, HashSet::from([by_email.body["id"].clone(), by_user.body["id"].clone(), by_name.body["id"].clone()]));
    // Paged, combined with a state filter.
    let p1 = s.list(&portal, &format!("q=zed{tag}&limit=2")).await;
    assert_eq!(p1.body["list"].as_array().unwrap().len(), 2);
    let c = p1.body["next_cursor"].as_str().unwrap();
    let p2 = s.list(&portal, &format!("q=zed{tag}&limit=2&cursor={c}")).await;
    assert_eq!(p2.body["list"].as_array().unwrap().len(), 1);
    assert!(p2.body["next_cursor"].is_null());
    assert_eq!(s.set_state(&portal, by_name.body["id"].as_str().unwrap(), "approved").await.status, 200);
    let approved = s.list(&portal, &format!("q=zed{tag}&state=approved")).await;
    assert_eq!(approved.body["total"], 1);
}

#[tokio::test]
async fn a_cursor_is_refused_for_another_portal_filter_or_after_editing() {
    let s = stack();
    let a = s.portal(json!({})).await;
    let b = s.portal(json!({})).await;
    for i in 0..3 {
        s.register_new(&a, &unique_email(&format!("ca{i}")), "A").await;
        s.register_new(&b, &unique_email(&format!("cb{i}")), "B").await;
    }
    let r = s.list(&a, "limit=1").await;
    let cursor = r.body["next_cursor"].as_str().unwrap().to_string();
    assert_eq!(s.list(&a, &format!("limit=1&cursor={cursor}")).await.status, 200);
    let foreign = s.list(&b, &format!("limit=1&cursor={cursor}")).await;
    foreign.assert_problem(400);
    assert_eq!(foreign.error_fields(), ["cursor"]);
    s.list(&a, &format!("limit=1&state=pending&cursor={cursor}")).await.assert_problem(400);
    s.list(&a, "limit=1&cursor=garbage").await.assert_problem(400);
    let mut edited = cursor.clone();
    edited.insert(5, 'x');
    s.list(&a, &format!("limit=1&cursor={edited}")).await.assert_problem(400);
}

#[tokio::test]
async fn a_portal_is_created_read_and_patched_with_a_partial_settings_merge() {
    let s = stack();
    let r =
        s.admin(Method::POST, "/portals", Some(json!({ "name": "Acme", "auto_approve": true, "admin_emails": ["ops@acme.com"] }))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(r.body["settings"]["auto_approve"], true);
    assert_eq!(r.body["settings"]["self_registration"], true, "defaults apply");
    assert_eq!(r.body["settings"]["reset_token_ttl_seconds"], 21600);
    let r = s.admin(Method::PATCH, &format!("/portals/{id}"), Some(json!({ "settings": { "trusted_domains": ["acme.com"] } }))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["settings"]["auto_approve"], true, "untouched settings are kept");
    assert_eq!(r.body["settings"]["trusted_domains"], json!(["acme.com"]));
    let r = s.admin(Method::GET, &format!("/portals/{id}"), None).await;
    assert_eq!(r.body["settings"]["admin_emails"], json!(["ops@acme.com"]));
    assert_eq!(r.body["name"], "Acme");

    let bad = s
        .admin(Method::PATCH, &format!("/portals/{id}"), Some(json!({ "settings": { "admin_emails": ["nope"], "reject_action": "keep" } })))
        .await;
    bad.assert_problem(400);
    assert_eq!(bad.error_fields(), ["settings.admin_emails[0]"]);
    let unknown = s.admin(Method::PATCH, &format!("/portals/{id}"), Some(json!({ "settings": { "auto_aprove": true } }))).await;
    unknown.assert_problem(400);
    let unknown = s.admin(Method::POST, "/portals", Some(json!({ "name": "X", "colour": "red" }))).await;
    unknown.assert_problem(400);
    assert_eq!(unknown.error_fields(), ["colour"]);
    s.admin(Method::POST, "/portals", Some(json!({ "auto_approve": true }))).await.assert_problem(400);
    s.admin(Method::GET, &format!("/portals/{}", uuid::Uuid::new_v4()), None).await.assert_problem(404);
}

#[tokio::test]
async fn the_auto_approve_switch_approves_new_developers_once_confirmed_and_mails_them() {
    let s = stack();
    let admin = unique_email("admin");
    let portal = s.portal(json!({ "auto_approve": true, "admin_emails": [admin] })).await;
    let email = unique_email("auto");
    let id = s.register_new(&portal, &email, "Auto").await;
    s.settle().await;
    assert_eq!(s.developer(&portal, &id).await.body["state"], "pending", "v2: every auto-approval waits for the address");
    s.confirm_address(&portal, &email).await;
    s.wait_for_mail(&email, "approved", 1).await;
    let dev = s.developer(&portal, &id).await;
    assert_eq!(dev.body["state"], "approved");
    let accepted = s.admin(Method::GET, &format!("/approvals?status=accepted&portal_id={portal}"), None).await;
    let approval = &accepted.body["list"][0];
    assert_eq!(approval["developer_id"], id.as_str());
    assert_eq!(approval["decided_by"], "system:auto-approval");
    s.settle().await;
    assert!(s.mails_to(&admin).await.is_empty(), "nothing for admins to decide");
}

#[tokio::test]
async fn trusted_domains_and_their_subdomains_are_approved_once_confirmed_but_look_alikes_are_not() {
    let s = stack();
    let portal = s.portal(json!({ "trusted_domains": ["acme.com"] })).await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let trusted = format!("t{tag}@acme.com");
    let sub = format!("s{tag}@eu.dev.ACME.com");
    let lookalike = format!("l{tag}@evilacme.com");
    let t = s.register_new(&portal, &trusted, "Trusted").await;
    let u = s.register_new(&portal, &sub, "Sub").await;
    let l = s.register_new(&portal, &lookalike, "Lookalike").await;
    for email in [&trusted, &sub, &lookalike] {
        s.confirm_address(&portal, email).await;
    }
    s.wait_for_mail(&trusted, "approved", 1).await;
    s.wait_for_mail(&sub, "approved", 1).await;
    s.settle().await;
    assert_eq!(s.developer(&portal, &t).await.body["state"], "approved");
    assert_eq!(s.developer(&portal, &u).await.body["state"], "approved");
    assert_eq!(s.developer(&portal, &l).await.body["state"], "pending");
    assert!(s.mails_about(&lookalike, "approved").await.is_empty());
}

#[tokio::test]
async fn an_admin_decision_made_first_wins_over_auto_approval() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let email = unique_email("first");
    let id = s.register_new(&portal, &email, "First").await;
    assert_eq!(s.set_state(&portal, &id, "rejected").await.status, 200);
    // Switching auto-approval on afterwards does not resurrect a decided registration.
    let r = s.admin(Method::PATCH, &format!("/portals/{portal}"), Some(json!({ "settings": { "auto_approve": true } }))).await;
    assert_eq!(r.status, 200);
    s.settle().await;
    assert_eq!(s.developer(&portal, &id).await.body["state"], "rejected");
}

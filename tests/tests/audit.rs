//! The audit trail against the local stack: a portal's events newest first with type, actor,
//! developer and time filters, cursors bound to their filter, a deleted developer's history,
//! no nonce in any event, and the portal's retention on the stored event.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

fn types(r: &Reply) -> Vec<String> {
    r.body["list"].as_array().expect("a list").iter().map(|e| e["type"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn an_admin_reads_who_registered_approved_and_revoked_newest_first_with_filters_and_cursors() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let ann = s.register_new(&portal, &unique_email("audit-ann"), "Ann Audit").await;
    assert_eq!(s.set_state(&portal, &ann, "approved").await.status, 200);
    assert_eq!(s.set_state(&portal, &ann, "revoked").await.status, 200);
    let events = |q: String| {
        let s = &s;
        let portal = &portal;
        async move { s.admin(Method::GET, &format!("/portals/{portal}/events?{q}"), None).await }
    };

    let all = events("type=developer.*".into()).await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(types(&all), ["developer.revoked", "developer.approved", "developer.registered"]);
    let revoked = &all.body["list"][0];
    assert_eq!((revoked["from_state"].as_str(), revoked["to_state"].as_str()), (Some("approved"), Some("revoked")));
    assert_eq!(revoked["actor"]["kind"], "admin");
    assert_eq!(revoked["developer_id"], ann.as_str());
    let registered = &all.body["list"][2];
    assert_eq!(registered["actor"], json!({"kind": "developer", "id": ann, "name": "Ann Audit"}));
    assert_eq!(registered["data"]["developer"]["name"], "Ann Audit");
    assert!(!all.body.to_string().contains("nonce"), "no nonce, token or hash in events: {}", all.body);

    let approved = events("type=developer.approved".into()).await;
    assert_eq!(types(&approved), ["developer.approved"]);
    let since = approved.body["list"][0]["at"].as_str().unwrap().to_string();
    assert_eq!(types(&events(format!("since={}", urlencode(&since))).await), ["developer.revoked", "developer.approved"]);
    assert_eq!(types(&events("actor=admin".into()).await), ["developer.revoked", "developer.approved"]);
    assert_eq!(types(&events(format!("developer_id={ann}&actor=developer")).await), ["developer.registered"]);
    assert!(types(&events("type=invite.*".into()).await).is_empty());

    let first = events("limit=2".into()).await;
    assert_eq!(types(&first), ["developer.revoked", "developer.approved"]);
    let cursor = first.body["next_cursor"].as_str().expect("a second page").to_string();
    let second = events(format!("limit=2&cursor={cursor}")).await;
    assert_eq!(types(&second), ["developer.registered"]);
    assert_eq!(second.body["next_cursor"], Value::Null);
    events(format!("limit=2&type=developer.*&cursor={cursor}")).await.assert_problem(400);

    let bad = events("type=developer&actor=root&since=yesterday".into()).await;
    bad.assert_problem(400);
    assert_eq!(bad.error_fields(), ["type", "actor", "since"]);
    let other = s.portal(json!({})).await;
    let r = s.admin(Method::GET, &format!("/portals/{other}/events"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(types(&r).is_empty(), "another portal's feed is its own");
}

#[tokio::test]
async fn a_deleted_developers_history_is_still_readable() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let bob = s.register_new(&portal, &unique_email("audit-bob"), "Bob Gone").await;
    let r = s.admin(Method::DELETE, &format!("/portals/{portal}/developers/{bob}"), None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(s.developer(&portal, &bob).await.status, 404);
    let r = s.admin(Method::GET, &format!("/portals/{portal}/developers/{bob}/events"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(types(&r), ["developer.deleted", "developer.registered"]);
    assert_eq!(r.body["list"][0]["from_state"], "pending");
}

#[tokio::test]
async fn events_are_kept_as_long_as_the_portal_says() {
    let s = stack();
    let portal = s.portal(json!({ "settings": { "audit_retention_days": 7 } })).await;
    let p = s.admin(Method::GET, &format!("/portals/{portal}"), None).await;
    assert_eq!(p.body["settings"]["audit_retention_days"], 7);
    s.admin(Method::PATCH, &format!("/portals/{portal}"), Some(json!({ "settings": { "audit_retention_days": 401 } })))
        .await
        .assert_problem(400);
    let dev = s.register_new(&portal, &unique_email("audit-ttl"), "Tess Ttl").await;
    let r = s.admin(Method::GET, &format!("/portals/{portal}/developers/{dev}/events"), None).await;
    let event = &r.body["list"][0];
    let item = s
        .dynamodb(
            "GetItem",
            json!({ "TableName": s.table(), "Key": { "pk": { "S": format!("EVENT#{}", event["id"].as_str().unwrap()) }, "sk": { "S": "EVENT" } } }),
        )
        .await;
    let ttl: i64 = item["Item"]["ttl"]["N"].as_str().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let kept = ttl - now;
    assert!((7 * 86_400 - 600..=7 * 86_400).contains(&kept), "kept {kept} s, not the default 90 days");
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn events_written_before_the_index_keys_are_listed_after_the_backfill() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let dev = s.register_new(&portal, &unique_email("audit-old"), "Olga Old").await;
    // An event as the code before the audit trail wrote it: no index keys.
    let id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, 1_767_225_600, 0)).to_string();
    let old = json!({
        "pk": { "S": format!("EVENT#{id}") }, "sk": { "S": "EVENT" }, "kind": { "S": "event" }, "ttl": { "N": "4102444800" },
        "id": { "S": id }, "type": { "S": "developer.updated" }, "portal_id": { "S": portal }, "developer_id": { "S": dev },
        "actor": { "S": "admin:old" }, "from_state": { "S": "pending" }, "to_state": { "S": "pending" },
        "at": { "S": "2026-01-01T00:00:00Z" }, "approval_id": { "NULL": true }, "reason": { "NULL": true },
        "developer": { "M": { "email": { "NULL": true }, "name": { "S": "Olga Old" }, "username": { "NULL": true } } }
    });
    s.dynamodb("PutItem", json!({ "TableName": s.table(), "Item": old })).await;
    let path = format!("/portals/{portal}/developers/{dev}/events");
    let history = || async { types(&s.admin(Method::GET, &path, None).await) };
    assert_eq!(history().await, ["developer.registered"], "not indexed yet");
    let out = s.ops(&["backfill-audit-index"]);
    assert!(out.ends_with("events given their audit trail index keys"), "{out}");
    assert_eq!(history().await, ["developer.registered", "developer.updated"], "newest first: the planted one is older");
}

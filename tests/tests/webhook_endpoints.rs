//! Webhook endpoint administration against the local stack: the secret once (create and
//! rotate), never in reads; SSRF targets refused at save; changes, deletes and portal
//! isolation; the endpoint stored in its portal's collection.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn an_admin_registers_an_endpoint_and_gets_its_secret_only_once() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let created = s
        .admin(
            Method::POST,
            &format!("/portals/{portal}/webhooks"),
            Some(json!({"url": "http://127.0.0.1:8123/hook", "events": ["developer.*", "invite.sent"], "description": "CRM"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let secret = created.body["secret"].as_str().expect("the secret in the 201").to_string();
    assert!(secret.starts_with("whsec_") && secret.len() >= 6 + 32, "{secret}");
    assert_eq!((created.body["enabled"].as_bool(), created.body["description"].as_str()), (Some(true), Some("CRM")));
    let id = created.body["id"].as_str().unwrap().to_string();

    let read = s.admin(Method::GET, &format!("/portals/{portal}/webhooks/{id}"), None).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["events"], json!(["developer.*", "invite.sent"]));
    let list = s.admin(Method::GET, &format!("/portals/{portal}/webhooks"), None).await;
    assert_eq!(list.body["list"].as_array().map(Vec::len), Some(1), "{}", list.body);
    for body in [&read.body, &list.body] {
        assert!(!body.to_string().contains("whsec_"), "no secret after the 201: {body}");
    }

    let items = s.table_items().await;
    let stored: Vec<_> = items.iter().filter(|i| i["sk"]["S"].as_str() == Some(&format!("WEBHOOK#{id}"))).collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["pk"]["S"].as_str(), Some(format!("PORTAL#{portal}").as_str()));
}

#[tokio::test]
async fn metadata_private_and_non_https_targets_are_refused_at_save() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    for url in [
        "http://169.254.169.254/",
        "http://10.0.0.1/",
        "https://192.168.1.10/hook",
        "http://hooks.example.com/",
        "https://[fd00:ec2::254]/",
    ] {
        let r = s.admin(Method::POST, &format!("/portals/{portal}/webhooks"), Some(json!({"url": url, "events": ["developer.*"]}))).await;
        r.assert_problem(400);
        assert_eq!(r.error_fields(), ["url"], "{url}: {}", r.body);
    }
    let r = s
        .admin(
            Method::POST,
            &format!("/portals/{portal}/webhooks"),
            Some(json!({"url": "https://hooks.example.com/", "events": ["developer.nope"], "secret": "mine"})),
        )
        .await;
    r.assert_problem(400);
    let r = s
        .admin(
            Method::POST,
            &format!("/portals/{portal}/webhooks"),
            Some(json!({"url": "https://hooks.example.com/", "events": ["developer.nope"]})),
        )
        .await;
    r.assert_problem(400);
    assert_eq!(r.error_fields(), ["events"]);
    let list = s.admin(Method::GET, &format!("/portals/{portal}/webhooks"), None).await;
    assert_eq!(list.body["list"], json!([]), "nothing half-written");
}

#[tokio::test]
async fn an_endpoint_is_changed_rotated_and_deleted_and_another_portal_never_sees_it() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let created = s
        .admin(
            Method::POST,
            &format!("/portals/{portal}/webhooks"),
            Some(json!({"url": "https://hooks.example.com/in", "events": ["developer.*"]})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let path = format!("/portals/{portal}/webhooks/{id}");

    let changed = s.admin(Method::PATCH, &path, Some(json!({"enabled": false, "events": ["invite.*"]}))).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!((changed.body["enabled"].as_bool(), changed.body["url"].as_str()), (Some(false), Some("https://hooks.example.com/in")));
    let refused = s.admin(Method::PATCH, &path, Some(json!({"url": "http://169.254.169.254/latest/meta-data/"}))).await;
    refused.assert_problem(400);

    let rotated = s.admin(Method::POST, &format!("{path}/rotate-secret"), None).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = rotated.body["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret != created.body["secret"].as_str().unwrap());

    let other = s.portal(json!({})).await;
    s.admin(Method::GET, &format!("/portals/{other}/webhooks/{id}"), None).await.assert_problem(404);
    s.admin(Method::DELETE, &format!("/portals/{other}/webhooks/{id}"), None).await.assert_problem(404);
    let missing = uuid::Uuid::new_v4();
    s.admin(Method::GET, &format!("/portals/{missing}/webhooks"), None).await.assert_problem(404);

    assert_eq!(s.admin(Method::DELETE, &path, None).await.status, 204);
    s.admin(Method::GET, &path, None).await.assert_problem(404);
    s.admin(Method::DELETE, &path, None).await.assert_problem(404);
    assert_eq!(s.send(Method::GET, &format!("/portals/{portal}/webhooks"), None, None).await.status, 401, "an admin token is required");
}

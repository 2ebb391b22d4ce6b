//! The security audit's mail-pipeline and deployment findings, against the local stack: a mail
//! that can never be sent (a template past its budget, an address SES rejects) is recorded on
//! its event and skipped without holding anyone else's mail; addresses are what SES can
//! deliver; portals send only from the deployment's sender domains; listings read only the
//! page they return; every answer is `no-store` and 5xx answers carry no internals.
//!
//! Faults and the proxy's counters are shared by the whole stack, so these tests run one at a
//! time.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::const_new(());

/// A text part that loops 100^5 times over a 100-character name.
const LOOP_100_TO_THE_FIFTH: &str = "{% for a in developer_name %}{% for b in developer_name %}{% for c in developer_name %}{% for d in developer_name %}{% for e in developer_name %}x{% endfor %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}";

fn name_of_100() -> String {
    "N".repeat(100)
}

/// The lifecycle events of a portal, as stored.
async fn events_of(s: &Stack, portal: &str) -> Vec<Value> {
    s.table_items().await.into_iter().filter(|i| i["kind"]["S"] == "event" && i["portal_id"]["S"] == portal).collect()
}

/// Waits for the failure of `mail` recorded on an event of `portal` about `email`.
async fn recorded_failure(s: &Stack, portal: &str, email: &str, mail: &str) -> Value {
    eventually(Duration::from_secs(30), || async {
        events_of(s, portal)
            .await
            .into_iter()
            .filter(|e| e.to_string().contains(email))
            .find_map(|e| e["mail_failures"]["L"].as_array()?.iter().find(|f| f["M"]["mail"]["S"] == mail).map(|f| f["M"].clone()))
    })
    .await
    .unwrap_or_else(|| panic!("no {mail} failure was recorded on an event of {email}"))
}

async fn approve_new(s: &Stack, portal: &str, email: &str, name: &str) -> String {
    let id = s.register_new(portal, email, name).await;
    assert_eq!(s.set_state(portal, &id, "approved").await.status, 200);
    id
}

#[tokio::test]
async fn a_stored_override_that_loops_100_to_the_fifth_does_not_stop_mail_for_another_portal() {
    let _serial = SERIAL.lock().await;
    let s = stack();
    let (looped, healthy) = (s.portal(json!({})).await, s.portal(json!({})).await);
    // Saving such a template is refused now, naming the part...
    let r = s
        .admin(
            Method::PATCH,
            &format!("/portals/{looped}"),
            Some(json!({ "settings": { "email_templates": { "approved": { "text": LOOP_100_TO_THE_FIFTH } } } })),
        )
        .await;
    r.assert_problem(400);
    assert_eq!(r.error_fields(), ["settings.email_templates.approved.text"]);
    assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("budget"), "{}", r.body);
    // ...but one saved before the fix is still in the table.
    s.dynamodb(
        "UpdateItem",
        json!({
            "TableName": s.table(), "Key": { "pk": { "S": format!("PORTAL#{looped}") }, "sk": { "S": "PORTAL" } },
            "UpdateExpression": "SET settings.email_templates = :t",
            "ExpressionAttributeValues": { ":t": { "M": { "approved": { "M": { "text": { "S": LOOP_100_TO_THE_FIFTH } } } } } }
        }),
    )
    .await;
    let victim = unique_email("looped");
    approve_new(&s, &looped, &victim, &name_of_100()).await;
    let other = unique_email("unaffected");
    approve_new(&s, &healthy, &other, &name_of_100()).await;
    s.wait_for_mail(&other, "approved", 1).await;
    let failure = recorded_failure(&s, &looped, &victim, "approved").await;
    let error = failure["error"]["S"].as_str().unwrap();
    assert!(error.contains("text template") && (error.contains("budget") || error.contains("bytes")), "{error}");
    s.settle().await;
    assert!(s.mails_about(&victim, "approved").await.is_empty(), "the looping mail was skipped, not sent");
}

#[tokio::test]
async fn include_import_extends_and_macros_are_refused_when_an_override_is_saved() {
    let _serial = SERIAL.lock().await;
    let s = stack();
    let portal = s.portal(json!({})).await;
    for (part, source) in [
        ("subject", "{% include 'approved' %}"),
        ("text", "{% import 'x' as y %}"),
        ("html", "{% extends 'base.html' %}"),
        ("text", "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"),
        ("html", "{% call m() %}x{% endcall %}"),
    ] {
        let r = s
            .admin(
                Method::PATCH,
                &format!("/portals/{portal}"),
                Some(json!({ "settings": { "email_templates": { "invite": { part: source } } } })),
            )
            .await;
        r.assert_problem(400);
        assert_eq!(r.error_fields(), [format!("settings.email_templates.invite.{part}")], "{source}");
        assert!(r.body["errors"][0]["message"].as_str().unwrap().starts_with("may not use"), "{}", r.body);
    }
}

#[tokio::test]
async fn a_unicode_local_part_is_refused_and_an_internationalised_domain_is_stored_as_ascii() {
    let _serial = SERIAL.lock().await;
    let s = stack();
    let portal = s.portal(json!({})).await;
    let r = s.register(&portal, json!({ "email": "jürgen@bücher.example", "password": STRONG_PASSWORD, "name": "Jürgen" })).await;
    r.assert_problem(400);
    assert_eq!(r.error_fields(), ["email"]);
    let invite =
        s.admin(Method::POST, &format!("/portals/{portal}/developers/invites"), Some(json!({ "emails": ["jürgen@example.com"] }))).await;
    invite.assert_problem(400);
    let local = format!("juergen-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let id = s.register_new(&portal, &format!("{local}@Bücher.example"), "Jürgen").await;
    let ascii = format!("{local}@xn--bcher-kva.example");
    assert_eq!(s.developer(&portal, &id).await.body["email"], ascii.as_str());
    s.wait_for_mail(&ascii, "Confirm your email", 1).await;
}

#[tokio::test]
async fn an_address_stored_before_the_fix_that_ses_cannot_deliver_is_recorded_and_the_batch_goes_on() {
    let _serial = SERIAL.lock().await;
    let s = stack();
    let portal = s.portal(json!({})).await;
    let legacy = approved_event(&portal, &uuid::Uuid::now_v7().to_string(), "jürgen@bücher.example");
    let legacy_id = legacy["id"]["S"].as_str().unwrap().to_string();
    let after = unique_email("after-legacy");
    let r =
        s.consume(vec![event_record(1, legacy), event_record(2, approved_event(&portal, &uuid::Uuid::now_v7().to_string(), &after))]).await;
    assert_eq!(r["batchItemFailures"], json!([]), "{r}");
    assert_eq!(s.mails_about(&after, "approved").await.len(), 1);
    let marker = s
        .dynamodb(
            "GetItem",
            json!({ "TableName": s.table(), "Key": { "pk": { "S": format!("EVENT#{legacy_id}") }, "sk": { "S": "MAIL#approved" } } }),
        )
        .await;
    assert_eq!(marker["Item"]["status"]["S"], "failed", "{marker}");
    assert!(marker["Item"]["error"]["S"].as_str().unwrap().contains("ASCII"), "{marker}");
}

#[tokio::test]
async fn an_address_ses_rejects_is_recorded_as_failed_and_skipped_while_other_mail_flows() {
    let _serial = SERIAL.lock().await;
    let s = stack();
    let (portal, other_portal) = (s.portal(json!({})).await, s.portal(json!({})).await);
    let rejected = unique_email("rejected");
    s.fault(Some(
        json!({ "service": "ses", "status": 400, "code": "MessageRejected", "message": "Address blacklisted.", "match": rejected }),
    ))
    .await;
    approve_new(&s, &portal, &rejected, "Rejected").await;
    let flows = unique_email("flows");
    approve_new(&s, &other_portal, &flows, "Flows").await;
    s.wait_for_mail(&flows, "approved", 1).await;
    let failure = recorded_failure(&s, &portal, &rejected, "approved").await;
    s.fault(None).await;
    assert!(failure["error"]["S"].as_str().unwrap().contains("MessageRejected"), "{failure}");
    s.settle().await;
    assert!(s.mails_to(&rejected).await.is_empty(), "rejected mail is not retried into the mailbox later");
}

#[tokio::test]
async fn email_from_must_be_in_the_deployments_sender_domains() {
    let _serial = SERIAL.lock().await;
    let s = stack();
    let allowed = s.env["GATEHOUSE_ALLOWED_SENDER_DOMAINS"].split(',').last().unwrap().trim().to_string();
    let portal = s.portal(json!({})).await;
    let set = |from: &str| json!({ "settings": { "email_from": from } });
    let r = s.admin(Method::PATCH, &format!("/portals/{portal}"), Some(set("ceo@bank.example"))).await;
    r.assert_problem(400);
    assert_eq!(r.error_fields(), ["settings.email_from"]);
    assert!(r.body["errors"][0]["message"].as_str().unwrap().contains(&allowed), "{}", r.body);
    let r = s.admin(Method::POST, "/portals", Some(json!({ "name": "Spoofer", "email_from": "ceo@bank.example" }))).await;
    r.assert_problem(400);
    assert_eq!(r.error_fields(), ["email_from"]);
    let r = s.admin(Method::PATCH, &format!("/portals/{portal}"), Some(set(&format!("news@{allowed}")))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let email = unique_email("from");
    approve_new(&s, &portal, &email, "From").await;
    let mail = s.wait_for_mail(&email, "approved", 1).await;
    assert_eq!(mail[0]["from"], format!("news@{allowed}"));
}

#[tokio::test]
async fn a_q_search_reads_only_the_page_it_returns_and_keeps_an_exact_total() {
    let _serial = SERIAL.lock().await;
    let s = stack();
    let portal = s.portal(json!({})).await;
    let q = format!("q{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut expected = HashSet::new();
    for i in 0..4 {
        // Matched by email and by name (found once), by username only, by name only.
        for body in [
            json!({ "email": format!("{q}-both{i}@example.com"), "name": format!("{q} Both {i}") }),
            json!({ "email": unique_email("u"), "name": "Someone", "username": format!("{q}u{i}") }),
            json!({ "email": unique_email("n"), "name": format!("{} Name {i}", q.to_uppercase()) }),
        ] {
            let mut body = body;
            body["password"] = json!(STRONG_PASSWORD);
            let r = s.register(&portal, body).await;
            assert_eq!(r.status, 202, "{}", r.body);
            expected.insert(r.body["id"].as_str().unwrap().to_string());
        }
    }
    s.register_new(&portal, &unique_email("nomatch"), "Unrelated").await;
    let mut seen = HashSet::new();
    let mut cursor = String::new();
    for page in 0.. {
        let before = s.items_returned_to("approvals").await;
        let r = s.list(&portal, &format!("q={q}&limit=2{cursor}")).await;
        let read = s.items_returned_to("approvals").await - before;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["total"], 12, "exact on every page");
        assert!(read <= 3, "page {page} read {read} items for 2");
        for d in r.body["list"].as_array().unwrap() {
            assert!(seen.insert(d["id"].as_str().unwrap().to_string()), "{d} twice");
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
        assert!(page < 10, "paging ends");
    }
    assert_eq!(seen, expected);
    let pending = s.list(&portal, &format!("q={q}&state=approved")).await;
    assert_eq!(pending.body["total"], 0);
}

#[tokio::test]
async fn team_members_are_listed_page_by_page_with_an_exact_total() {
    let _serial = SERIAL.lock().await;
    let s = stack();
    let portal = s.portal(json!({})).await;
    let team = s.admin(Method::POST, &format!("/portals/{portal}/teams"), Some(json!({ "name": "Many" }))).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut expected = HashSet::new();
    for i in 0..12 {
        let dev = s.register_new(&portal, &unique_email(&format!("member{i}")), "Member").await;
        let r = s.admin(Method::POST, &format!("/portals/{portal}/teams/{team}/developers"), Some(json!({ "id": dev }))).await;
        assert_eq!(r.status, 201, "{}", r.body);
        expected.insert(dev);
    }
    let mut seen = HashSet::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let before = s.items_returned_to("teams").await;
        let r = s.admin(Method::GET, &format!("/portals/{portal}/teams/{team}/developers?limit=5{cursor}"), None).await;
        let read = s.items_returned_to("teams").await - before;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["total"], 12);
        assert!(read <= 6 + 5, "read {read} items for a page of 5 (memberships + developers)");
        pages += 1;
        seen.extend(r.body["list"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!((pages, seen), (3, expected));
    s.admin(Method::GET, &format!("/portals/{portal}/teams/{team}/developers?limit=0"), None).await.assert_problem(400);
}

#[tokio::test]
async fn every_answer_is_no_store_and_a_503_does_not_echo_the_stores_message() {
    let _serial = SERIAL.lock().await;
    let s = stack();
    let portal = s.portal(json!({})).await;
    let email = unique_email("nostore");
    let id = approve_new(&s, &portal, &email, "No Store").await;
    let login =
        s.send(Method::POST, &format!("/portals/{portal}/login"), None, Some(json!({ "login": email, "password": STRONG_PASSWORD }))).await;
    let session = login.body["token"].as_str().unwrap_or_default().to_string();
    let answers = [
        login,
        s.send(Method::POST, &format!("/portals/{portal}/login"), None, Some(json!({ "login": email, "password": "wrong" }))).await,
        s.send(Method::GET, &format!("/portals/{portal}/me"), Some(&session), None).await,
        s.developer(&portal, &id).await,
        s.admin(Method::GET, "/portals/not-a-portal", None).await,
        s.register(&portal, json!({ "email": "nope" })).await,
    ];
    for r in &answers {
        assert_eq!(r.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"), "{} {}", r.status, r.body);
    }
    s.fault(Some(json!({ "service": "dynamodb", "status": 400, "code": "ThrottlingException" }))).await;
    let r = s.admin(Method::GET, &format!("/portals/{portal}"), None).await;
    s.fault(None).await;
    r.assert_problem(503);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(!detail.contains("Throttling") && !detail.contains("HTTP"), "{detail}");
    assert_eq!(r.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
}

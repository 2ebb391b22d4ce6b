//! Shared helpers for the integration tests. They talk to the local stack exactly as a client
//! would: HTTP to `GATEHOUSE_API`, mail read back from `GATEHOUSE_MAILBOX`. Settings come from
//! `.gatehouse/local.env` (written by `infra/local/up.sh`), overridable by the environment.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

pub const STRONG_PASSWORD: &str = "correct horse battery staple";

pub struct Stack {
    pub api: String,
    pub admin_token: String,
    pub mailbox: String,
    pub env: HashMap<String, String>,
    pub http: Client,
}

fn env_file() -> HashMap<String, String> {
    let path = std::env::var("GATEHOUSE_ENV_FILE").unwrap_or_else(|_| format!("{}/../.gatehouse/local.env", env!("CARGO_MANIFEST_DIR")));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path} ({e}); start the stack with infra/local/up.sh"));
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect()
}

pub fn stack() -> Stack {
    let mut env = env_file();
    for k in ["GATEHOUSE_API", "GATEHOUSE_ADMIN_TOKEN", "GATEHOUSE_MAILBOX"] {
        if let Ok(v) = std::env::var(k) {
            env.insert(k.to_string(), v);
        }
    }
    Stack {
        api: env["GATEHOUSE_API"].clone(),
        admin_token: env["GATEHOUSE_ADMIN_TOKEN"].clone(),
        mailbox: env["GATEHOUSE_MAILBOX"].clone(),
        env,
        http: Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().unwrap(),
    }
}

/// A unique address for one test, so tests can run in parallel on one stack.
pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

pub fn unique_username(tag: &str) -> String {
    format!("{tag}{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn content_type(&self) -> String {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    }

    /// Asserts an RFC 9457 problem with this status.
    pub fn assert_problem(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "expected {status}, got {} {}", self.status, self.body);
        assert!(self.content_type().starts_with("application/problem+json"), "content-type {}", self.content_type());
        assert_eq!(self.body["status"], status, "{}", self.body);
        assert!(self.body["title"].is_string() && self.body["detail"].is_string() && self.body["type"].is_string(), "{}", self.body);
        self
    }

    /// The field names of a validation problem.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["field"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }
}

impl Stack {
    pub async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.api, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::reply(req).await
    }

    /// Like `send`, as if the clock were `offset_seconds` ahead (local stacks honour the
    /// `x-gatehouse-clock-offset` header; no sleeping in tests).
    pub async fn send_at(&self, offset_seconds: i64, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut req =
            self.http.request(method, format!("{}{}", self.api, path)).header("x-gatehouse-clock-offset", offset_seconds.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::reply(req).await
    }

    pub async fn send_raw(&self, method: Method, path: &str, token: Option<&str>, content_type: &str, body: Vec<u8>) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.api, path)).header("content-type", content_type).body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Self::reply(req).await
    }

    async fn reply(req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.expect("the local API answers");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Reply { status, headers, body }
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.send(method, path, Some(&self.admin_token.clone()), body).await
    }

    /// Creates a fresh portal for one test; `settings` are merged at creation.
    pub async fn portal(&self, settings: Value) -> String {
        let mut body = json!({ "name": "Test portal" });
        if let Value::Object(m) = settings {
            for (k, v) in m {
                body[k] = v;
            }
        }
        let r = self.admin(Method::POST, "/portals", Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    pub async fn register(&self, portal: &str, body: Value) -> Reply {
        self.send(Method::POST, &format!("/portals/{portal}/register"), None, Some(body)).await
    }

    /// Registers a new developer and returns its id (the 202's id).
    pub async fn register_new(&self, portal: &str, email: &str, name: &str) -> String {
        let r = self.register(portal, json!({ "email": email, "password": STRONG_PASSWORD, "name": name })).await;
        assert_eq!(r.status, 202, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// Invites `email` by link and accepts the invite with `STRONG_PASSWORD`: an approved
    /// developer with a confirmed address. Returns its id.
    pub async fn invited_developer(&self, portal: &str, email: &str, name: &str, username: Option<&str>) -> String {
        let r = self.admin(Method::POST, &format!("/portals/{portal}/developers/invites"), Some(json!({ "emails": [email] }))).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let token = link_token(&self.wait_for_mail(email, "invited", 1).await);
        let mut body = json!({ "token": token, "password": STRONG_PASSWORD, "name": name });
        if let Some(u) = username {
            body["username"] = json!(u);
        }
        let r = self.send(Method::POST, &format!("/portals/{portal}/invites/accept"), None, Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// Confirms a self-registered developer's address with the link of its verification mail
    /// (the v2 default `require_verified_email` lets nobody sign in before).
    pub async fn confirm_address(&self, portal: &str, email: &str) {
        let token = link_token(&self.wait_for_mail(email, "Confirm your email", 1).await);
        let r = self.send(Method::POST, &format!("/portals/{portal}/verify-email"), None, Some(json!({ "token": token }))).await;
        assert_eq!(r.status, 204, "{}", r.body);
    }

    /// Registers a developer (with `username` if given), confirms the address and approves it:
    /// ready to sign in. Returns the developer's id.
    pub async fn approved_developer(&self, portal: &str, email: &str, username: Option<&str>) -> String {
        let mut body = json!({ "email": email, "password": STRONG_PASSWORD, "name": "Approved Dev" });
        if let Some(u) = username {
            body["username"] = json!(u);
        }
        let r = self.register(portal, body).await;
        assert_eq!(r.status, 202, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_string();
        self.confirm_address(portal, email).await;
        let r = self.set_state(portal, &id, "approved").await;
        assert_eq!(r.status, 200, "{}", r.body);
        id
    }

    pub async fn developer(&self, portal: &str, id: &str) -> Reply {
        self.admin(Method::GET, &format!("/portals/{portal}/developers/{id}"), None).await
    }

    pub async fn set_state(&self, portal: &str, id: &str, state: &str) -> Reply {
        self.admin(Method::PATCH, &format!("/portals/{portal}/developers/{id}"), Some(json!({ "status": state }))).await
    }

    pub async fn list(&self, portal: &str, query: &str) -> Reply {
        self.admin(Method::GET, &format!("/portals/{portal}/developers?{query}"), None).await
    }

    /// The pending approval request of a developer.
    pub async fn approval_of(&self, portal: &str, developer: &str) -> Value {
        let r = self
            .admin(Method::GET, &format!("/approvals?event=developer_registration&status=pending&portal_id={portal}&limit=100"), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["list"].as_array().unwrap().iter().find(|a| a["developer_id"] == developer).cloned().unwrap_or(Value::Null)
    }

    /// Every mail sent to `to` so far.
    pub async fn mails_to(&self, to: &str) -> Vec<Value> {
        let all: Value = self.http.get(&self.mailbox).send().await.expect("mailbox answers").json().await.expect("mailbox JSON");
        all.as_array()
            .unwrap()
            .iter()
            .filter(|m| m["to"].as_array().is_some_and(|r| r.iter().any(|a| a.as_str().is_some_and(|a| a.eq_ignore_ascii_case(to)))))
            .cloned()
            .collect()
    }

    /// The mails to `to` whose subject contains `subject`.
    pub async fn mails_about(&self, to: &str, subject: &str) -> Vec<Value> {
        self.mails_to(to).await.into_iter().filter(|m| m["subject"].as_str().unwrap_or_default().contains(subject)).collect()
    }

    /// Waits (bounded) until `to` has received at least `n` mails whose subject contains `subject`.
    pub async fn wait_for_mail(&self, to: &str, subject: &str, n: usize) -> Vec<Value> {
        self.wait_for_mail_within(to, subject, n, Duration::from_secs(30)).await
    }

    /// Like `wait_for_mail`, with its own deadline (for loads that queue hundreds of events).
    pub async fn wait_for_mail_within(&self, to: &str, subject: &str, n: usize, deadline: Duration) -> Vec<Value> {
        eventually(deadline, || async {
            let found: Vec<Value> =
                self.mails_to(to).await.into_iter().filter(|m| m["subject"].as_str().unwrap_or_default().contains(subject)).collect();
            (found.len() >= n).then_some(found)
        })
        .await
        .unwrap_or_else(|| panic!("no mail {subject:?} reached {to} in time"))
    }

    /// Lets the stream consumer catch up: a sentinel registration's access-request mail to a
    /// sentinel admin of a sentinel portal arrives after every earlier event was handled
    /// (one shard, in order).
    pub async fn settle(&self) {
        let admin = unique_email("sentinel-admin");
        let portal = self.portal(json!({ "admin_emails": [admin] })).await;
        self.register_new(&portal, &unique_email("sentinel"), "Sentinel").await;
        self.wait_for_mail(&admin, "requests access", 1).await;
    }

    /// The Lambda invoke endpoint of one function (`cargo lambda watch`, behind the front), for
    /// tests that invoke a function directly with a hand-made event.
    pub fn invocations(&self, function: &str) -> String {
        let lambda = self.env.get("GATEHOUSE_LAMBDA_URL").map(String::as_str).unwrap_or("http://127.0.0.1:9002");
        format!("{}/2015-03-31/functions/{function}/invocations", lambda.trim_end_matches('/'))
    }

    /// One DynamoDB call straight to the emulator (DynamoDB JSON over HTTP), as no function
    /// would make it: to look at the table, or to plant what older code could have stored.
    pub async fn dynamodb(&self, operation: &str, body: Value) -> Value {
        let r = self
            .http
            .post(&self.env["AWS_ENDPOINT_URL"])
            .header("X-Amz-Target", format!("DynamoDB_20120810.{operation}"))
            .header("Content-Type", "application/x-amz-json-1.0")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x",
            )
            .body(body.to_string())
            .send()
            .await
            .expect("the emulator answers");
        let status = r.status();
        let out: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{operation}: {status} {out}");
        out
    }

    pub fn table(&self) -> String {
        self.env.get("GATEHOUSE_TABLE").cloned().unwrap_or_else(|| "gatehouse".into())
    }

    /// Every item of the table.
    pub async fn table_items(&self) -> Vec<Value> {
        let mut items = Vec::new();
        let mut start: Option<Value> = None;
        loop {
            let mut body = json!({ "TableName": self.table() });
            if let Some(k) = start.take() {
                body["ExclusiveStartKey"] = k;
            }
            let r = self.dynamodb("Scan", body).await;
            items.extend(r["Items"].as_array().cloned().unwrap_or_default());
            match r.get("LastEvaluatedKey") {
                Some(k) if !k.is_null() => start = Some(k.clone()),
                _ => return items,
            }
        }
    }

    /// Switches faults of the fault proxy on (`Some`, see infra/local/faultproxy.py) or clears
    /// them all (`None`). Faults hit every function: tests that use them run one at a time.
    pub async fn fault(&self, body: Option<Value>) {
        let url = &self.env["GATEHOUSE_FAULTS"];
        let r = match body {
            Some(b) => self.http.post(url).json(&b).send().await.unwrap(),
            None => self.http.delete(url).send().await.unwrap(),
        };
        assert!(r.status().is_success());
    }

    /// How many items DynamoDB has answered `function`'s queries and batch reads so far (as
    /// the fault proxy counts them).
    pub async fn items_returned_to(&self, function: &str) -> u64 {
        let r: Value = self.http.get(&self.env["GATEHOUSE_FAULTS"]).send().await.unwrap().json().await.unwrap();
        r["returned"][function].as_u64().unwrap_or(0)
    }

    /// Invokes the stream consumer directly with a Lambda-shaped batch.
    pub async fn consume(&self, records: Vec<Value>) -> Value {
        self.http.post(self.invocations("stream-consumer")).json(&json!({ "Records": records })).send().await.unwrap().json().await.unwrap()
    }

    /// Runs the ops CLI against the local stack (for scoped tokens).
    pub fn ops(&self, args: &[&str]) -> String {
        let bin = format!("{}/../target/debug/gatehouse-ops", env!("CARGO_MANIFEST_DIR"));
        let out = std::process::Command::new(bin).args(args).envs(self.env.iter()).output().expect("gatehouse-ops runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

/// A stream record (INSERT) carrying `image`, as Lambda hands it to the consumer.
pub fn event_record(seq: u64, image: Value) -> Value {
    json!({
        "eventID": format!("e{seq}"), "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "dynamodb": { "ApproximateCreationDateTime": 1_795_435_200, "Keys": { "pk": image["pk"], "sk": image["sk"] }, "NewImage": image,
                      "SequenceNumber": seq.to_string(), "SizeBytes": 300, "StreamViewType": "NEW_AND_OLD_IMAGES" }
    })
}

/// A `developer.approved` event item (DynamoDB JSON) that is not in the table.
pub fn approved_event(portal: &str, developer: &str, email: &str) -> Value {
    let id = uuid::Uuid::now_v7().to_string();
    json!({
        "pk": { "S": format!("EVENT#{id}") }, "sk": { "S": "EVENT" }, "kind": { "S": "event" }, "id": { "S": id },
        "type": { "S": "developer.approved" }, "portal_id": { "S": portal }, "developer_id": { "S": developer },
        "actor": { "S": "admin:test" }, "from_state": { "S": "pending" }, "to_state": { "S": "approved" },
        "at": { "S": "2026-11-23T12:00:00Z" }, "approval_id": { "NULL": true },
        "developer": { "M": { "email": { "S": email }, "name": { "S": "Replayed" }, "username": { "NULL": true } } },
        "reason": { "NULL": true }
    })
}

/// The token of the newest link (`token=...`) in the mails to `to` whose subject contains `subject`.
pub fn link_token(mails: &[Value]) -> String {
    let body = mails.last().and_then(|m| m["body"].as_str()).unwrap_or_default();
    let start = body.find("token=").expect("a link with a token") + "token=".len();
    body[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c)).collect()
}

/// Polls `f` until it yields a value or the deadline passes.
pub async fn eventually<T, F, Fut>(deadline: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if start.elapsed() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

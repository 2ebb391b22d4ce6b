//! Single sign-on (issue 17) against the local stack: the identity-provider admin API (secret
//! write-only and sealed with the stack's KMS key in moto).

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

fn issuer(s: &Stack) -> String {
    s.env.get("GATEHOUSE_OIDC_ISSUER").cloned().unwrap_or_else(|| "http://127.0.0.1:9400".into())
}

fn provider_body(s: &Stack, secret: &str, mappings: Value) -> Value {
    json!({
        "type": "oidc", "display_name": "Partner SSO",
        "config": {"issuer_url": issuer(s), "client_id": "gatehouse-local", "client_secret": secret,
                   "scopes": ["email", "profile", "groups"]},
        "team_mappings": mappings,
    })
}

/// One KMS call straight to the emulator, as no function would make it.
async fn kms(s: &Stack, operation: &str, body: Value) -> (u16, Value) {
    let r = s
        .http
        .post(&s.env["AWS_ENDPOINT_URL"])
        .header("X-Amz-Target", format!("TrentService.{operation}"))
        .header("Content-Type", "application/x-amz-json-1.1")
        .header("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=x")
        .body(body.to_string())
        .send()
        .await
        .expect("the emulator answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn stored_provider(s: &Stack, portal: &str, idp: &str) -> Value {
    let r = s
        .dynamodb(
            "GetItem",
            json!({"TableName": s.table(), "Key": {"pk": {"S": format!("PORTAL#{portal}")}, "sk": {"S": format!("IDP#{idp}")}}}),
        )
        .await;
    r["Item"].clone()
}

#[tokio::test]
async fn an_admin_adds_a_provider_whose_secret_is_never_returned_and_is_stored_sealed_by_kms() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let team = s.admin(Method::POST, &format!("/portals/{portal}/teams"), Some(json!({"name": "Partners"}))).await;
    let team = team.body["id"].as_str().unwrap().to_string();
    let secret = format!("client-secret-{}", uuid::Uuid::new_v4().simple());
    let r = s
        .admin(
            Method::POST,
            &format!("/portals/{portal}/identity-providers"),
            Some(provider_body(&s, &secret, json!([{"group": "partners", "team_id": team}]))),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(!r.body.to_string().contains(&secret) && r.body["config"].get("client_secret").is_none(), "{}", r.body);
    assert_eq!(r.body["type"], "oidc");
    assert_eq!(r.body["config"]["scopes"], json!(["openid", "email", "profile", "groups"]));
    assert_eq!(r.body["team_mappings"], json!([{"group": "partners", "team_id": team}]));
    let id = r.body["id"].as_str().unwrap().to_string();

    for got in [
        s.admin(Method::GET, &format!("/portals/{portal}/identity-providers/{id}"), None).await,
        s.admin(Method::GET, &format!("/portals/{portal}/identity-providers"), None).await,
    ] {
        assert_eq!(got.status, 200, "{}", got.body);
        assert!(!got.body.to_string().contains(&secret), "{}", got.body);
    }

    let item = stored_provider(&s, &portal, &id).await;
    assert!(!item.to_string().contains(&secret), "the table holds no clear secret");
    let sealed = item["client_secret_sealed"]["S"].as_str().unwrap().to_string();
    let (status, opened) =
        kms(&s, "Decrypt", json!({"CiphertextBlob": sealed, "EncryptionContext": {"portal_id": portal, "idp_id": id}})).await;
    assert_eq!(status, 200, "{opened}");
    assert_eq!(opened["Plaintext"].as_str().map(|p| String::from_utf8(decode_b64(p)).unwrap()), Some(secret.clone()));
    let (status, _) = kms(
        &s,
        "Decrypt",
        json!({"CiphertextBlob": sealed, "EncryptionContext": {"portal_id": portal, "idp_id": uuid::Uuid::new_v4().to_string()}}),
    )
    .await;
    assert_ne!(status, 200, "another provider's context does not open it");

    // A change keeps the sealed secret unless a new one is given; a new one is sealed again.
    let r = s
        .admin(Method::PATCH, &format!("/portals/{portal}/identity-providers/{id}"), Some(json!({"enabled": false, "auto_approve": true})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.body["enabled"].clone(), r.body["auto_approve"].clone()), (json!(false), json!(true)));
    assert_eq!(stored_provider(&s, &portal, &id).await["client_secret_sealed"]["S"].as_str(), Some(sealed.as_str()));
    let r = s
        .admin(Method::PATCH, &format!("/portals/{portal}/identity-providers/{id}"), Some(json!({"config": {"client_secret": "rotated"}})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_ne!(stored_provider(&s, &portal, &id).await["client_secret_sealed"]["S"].as_str(), Some(sealed.as_str()));

    let r = s.admin(Method::DELETE, &format!("/portals/{portal}/identity-providers/{id}"), None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    s.admin(Method::GET, &format!("/portals/{portal}/identity-providers/{id}"), None).await.assert_problem(404);
}

fn decode_b64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        acc = (acc << 6) | ALPHABET.iter().position(|a| *a == c).expect("base64") as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[tokio::test]
async fn a_bad_provider_is_refused_with_a_problem_naming_each_field_and_nothing_is_stored() {
    let s = stack();
    let portal = s.portal(json!({})).await;
    let path = format!("/portals/{portal}/identity-providers");
    let r = s
        .admin(
            Method::POST,
            &path,
            Some(json!({"type": "saml", "config": {"issuer_url": "http://idp.example.com", "client_id": "x", "client_secret": "y"}})),
        )
        .await;
    r.assert_problem(400);
    assert_eq!(r.error_fields(), ["type", "display_name", "config.issuer_url"]);
    let r = s.admin(Method::POST, &path, Some(provider_body(&s, "s", json!([{"group": "g", "team_id": uuid::Uuid::new_v4()}])))).await;
    r.assert_problem(400);
    assert_eq!(r.error_fields(), ["team_mappings[0].team_id"]);
    s.admin(Method::POST, &path, Some(json!({"type": "oidc", "surprise": 1}))).await.assert_problem(400);
    let listed = s.admin(Method::GET, &path, None).await;
    assert_eq!(listed.body["list"], json!([]), "{}", listed.body);
}

#[tokio::test]
async fn another_portals_admin_token_sees_no_provider_and_no_token_is_a_401() {
    let s = stack();
    let (portal, other) = (s.portal(json!({})).await, s.portal(json!({})).await);
    let r = s.admin(Method::POST, &format!("/portals/{portal}/identity-providers"), Some(provider_body(&s, "secret", json!([])))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    let scoped = s.ops(&["mint-admin-token", "--name", "other-portal", "--portal", &other]);
    s.send(Method::GET, &format!("/portals/{portal}/identity-providers/{id}"), Some(&scoped), None).await.assert_problem(404);
    s.send(Method::GET, &format!("/portals/{portal}/identity-providers"), Some(&scoped), None).await.assert_problem(404);
    s.send(Method::GET, &format!("/portals/{other}/identity-providers/{id}"), Some(&scoped), None).await.assert_problem(404);
    s.send(Method::GET, &format!("/portals/{portal}/identity-providers"), None, None).await.assert_problem(401);
}

// ---------------------------------------------------------------------------------------------
// The sign-in, end to end: Gatehouse's start, the local OpenID Provider's own login form, the
// callback; redirects followed by hand with a cookie jar (one per simulated browser).

/// A browser's cookies (one jar for 127.0.0.1, as browsers ignore the port), by name.
#[derive(Default)]
struct Browser {
    cookies: Vec<(String, String, String)>,
}

struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Browser {
    fn header_for(&self, path: &str) -> String {
        self.cookies
            .iter()
            .filter(|(_, _, p)| path.starts_with(p.as_str()))
            .map(|(n, v, _)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, headers: &reqwest::header::HeaderMap) {
        for raw in headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()) {
            let mut parts = raw.split(';');
            let Some((name, value)) = parts.next().and_then(|nv| nv.trim().split_once('=')) else { continue };
            let path = parts.filter_map(|a| a.trim().split_once('=')).find(|(k, _)| k.eq_ignore_ascii_case("path")).map_or("/", |(_, v)| v);
            let expired = raw.to_ascii_lowercase().contains("max-age=0") || value.is_empty();
            self.cookies.retain(|(n, _, p)| !(n == name && p == path));
            if !expired {
                self.cookies.push((name.to_string(), value.to_string(), path.to_string()));
            }
        }
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.iter().find(|(n, _, _)| n == name).map(|(_, v, _)| v.clone())
    }

    async fn go(&mut self, _s: &Stack, method: Method, url: &str, form: Option<&[(&str, &str)]>) -> Answer {
        let path = url.split_once("://").map_or(url, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
        let client = reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut req = client.request(method, url).header("cookie", self.header_for(path));
        if let Some(f) = form {
            req = req.form(f);
        }
        let resp = req.send().await.expect("answers");
        self.keep(resp.headers());
        let status = resp.status().as_u16();
        let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
        Answer { status, location, body: resp.text().await.unwrap_or_default() }
    }
}

fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http") {
        location.to_string()
    } else {
        format!("{base}{location}")
    }
}

fn api_origin(s: &Stack) -> String {
    s.api.trim_end_matches("/api").to_string()
}

/// A user of the local provider, unique to one test.
struct IdpUser {
    username: String,
    email: String,
}

async fn idp_user(s: &Stack, verified: bool, groups: &[&str], email: Option<&str>) -> IdpUser {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let username = format!("u{}", &tag[..12]);
    let email = email.map_or_else(|| format!("{username}@partner.example"), str::to_string);
    put_idp_user(s, &username, &email, verified, groups, &tag).await;
    IdpUser { username, email }
}

async fn put_idp_user(s: &Stack, username: &str, email: &str, verified: bool, groups: &[&str], sub: &str) {
    let r = s
        .http
        .put(format!("{}/__admin/users/{username}", issuer(s)))
        .bearer_auth(&s.env["GATEHOUSE_OIDC_ADMIN_KEY"])
        .json(&json!({"password": "pw-of-the-test", "claims": {"sub": sub, "email": email, "email_verified": verified, "name": "Sso Tester", "groups": groups}}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

async fn set_groups(s: &Stack, user: &IdpUser, groups: &[&str]) {
    let r = s
        .http
        .get(format!("{}/__admin/users/{}", issuer(s), user.username))
        .bearer_auth(&s.env["GATEHOUSE_OIDC_ADMIN_KEY"])
        .send()
        .await
        .unwrap();
    let claims: Value = r.json().await.unwrap();
    let sub = claims["claims"]["sub"].as_str().unwrap().to_string();
    put_idp_user(s, &user.username, &user.email, claims["claims"]["email_verified"] == json!(true), groups, &sub).await;
}

/// A portal with a provider whose client is registered at the local provider; (portal, idp,
/// client_id).
async fn sso_portal(s: &Stack, settings: Value, auto_approve: bool, mappings: Value) -> (String, String, String) {
    let portal = s.portal(settings).await;
    let mut body = provider_body(s, "placeholder", mappings);
    body["auto_approve"] = json!(auto_approve);
    let r = s.admin(Method::POST, &format!("/portals/{portal}/identity-providers"), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let idp = r.body["id"].as_str().unwrap().to_string();
    let id = register_client(s, &portal, &idp).await;
    (portal, idp, id)
}

/// Starts a sign-in, posts the provider's login form: the browser stands at the callback URL.
async fn to_callback(s: &Stack, b: &mut Browser, portal: &str, idp: &str, user: &IdpUser) -> String {
    let start = b.go(s, Method::GET, &format!("{}/portals/{portal}/sso/{idp}/start?return_to=/portal/{portal}/apps", s.api), None).await;
    assert_eq!(start.status, 302, "{}", start.body);
    assert!(b.cookie("gatehouse_sso").is_some());
    let mut url = start.location.unwrap();
    assert!(url.starts_with(&issuer(s)) && url.contains("code_challenge_method=S256") && url.contains("nonce="), "{url}");
    let mut form_posted = false;
    for _ in 0..10 {
        let a = b.go(s, Method::GET, &url, None).await;
        if a.status == 200 && !form_posted {
            assert!(a.body.contains("name=\"password\""), "{}", a.body);
            let action = a.body.split("action=\"").nth(1).and_then(|r| r.split('"').next()).unwrap().to_string();
            let posted = b
                .go(s, Method::POST, &absolute(&issuer(s), &action), Some(&[("username", &user.username), ("password", "pw-of-the-test")]))
                .await;
            form_posted = true;
            url = absolute(&issuer(s), &posted.location.expect("the login redirects"));
        } else {
            assert!(matches!(a.status, 302 | 303), "{} {}", a.status, a.body);
            url = absolute(&issuer(s), &a.location.unwrap());
        }
        if url.contains("/sso/") && url.contains("/callback") {
            return url;
        }
    }
    panic!("never reached the callback")
}

/// The whole sign-in; the callback's answer.
async fn sign_in(s: &Stack, portal: &str, idp: &str, user: &IdpUser) -> (Answer, Browser) {
    let mut b = Browser::default();
    let cb = to_callback(s, &mut b, portal, idp, user).await;
    let a = b.go(s, Method::GET, &cb, None).await;
    (a, b)
}

async fn developers_of(s: &Stack, portal: &str) -> Vec<Value> {
    s.list(portal, "").await.body["list"].as_array().cloned().unwrap_or_default()
}

async fn problem_of(a: &Answer, status: u16) -> Value {
    assert_eq!(a.status, status, "{}", a.body);
    let body: Value = serde_json::from_str(&a.body).unwrap_or(Value::Null);
    assert_eq!(body["status"], status, "{}", a.body);
    body
}

#[tokio::test]
async fn a_first_sign_in_creates_a_pending_sso_developer_who_signs_in_once_approved() {
    let s = stack();
    let (portal, idp, _) = sso_portal(&s, json!({}), false, json!([])).await;
    let user = idp_user(&s, true, &[], None).await;
    let (a, _) = sign_in(&s, &portal, &idp, &user).await;
    let p = problem_of(&a, 403).await;
    assert!(p["detail"].as_str().unwrap().contains("pending"), "{p}");
    let devs = developers_of(&s, &portal).await;
    assert_eq!(devs.len(), 1, "{devs:?}");
    let dev = &devs[0];
    assert_eq!(
        (dev["provider"].clone(), dev["state"].clone(), dev["email_verified"].clone()),
        (json!("sso"), json!("pending"), json!(true))
    );
    assert_eq!(dev["email"], user.email.as_str());
    let id = dev["id"].as_str().unwrap().to_string();
    assert_eq!(s.set_state(&portal, &id, "approved").await.status, 200);

    let (a, b) = sign_in(&s, &portal, &idp, &user).await;
    assert_eq!(a.status, 302, "{}", a.body);
    assert_eq!(a.location.as_deref(), Some(format!("/portal/{portal}/apps").as_str()));
    let session = b.cookie("gatehouse_session").expect("the session cookie");
    assert!(b.cookie("gatehouse_sso").is_none(), "the flow cookie is cleared");
    let me = s.send(Method::GET, &format!("/portals/{portal}/me"), Some(&session), None).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["id"], id.as_str());
    assert_eq!(developers_of(&s, &portal).await.len(), 1, "found again by (issuer, sub), not created twice");
}

#[tokio::test]
async fn with_auto_approve_teams_follow_the_mapped_groups_at_every_sign_in_and_revocation_ends_it() {
    let s = stack();
    let (portal, idp, teams) = sso_portal_with_teams(&s, &[("Partners", "partners"), ("Engineering", "engineering")]).await;
    let (partners, engineering) = (teams[0].clone(), teams[1].clone());
    let user = idp_user(&s, true, &["partners", "engineering", "other"], None).await;
    let (a, b) = sign_in(&s, &portal, &idp, &user).await;
    assert_eq!(a.status, 302, "{}", a.body);
    let session = b.cookie("gatehouse_session").unwrap();
    let me = s.send(Method::GET, &format!("/portals/{portal}/me"), Some(&session), None).await;
    let mut teams: Vec<String> = serde_json::from_value(me.body["teams"].clone()).unwrap();
    teams.sort();
    let mut want = vec![partners.clone(), engineering.clone()];
    want.sort();
    assert_eq!(teams, want);
    assert_eq!(me.body["state"], "approved");

    set_groups(&s, &user, &["partners"]).await;
    let (a, b) = sign_in(&s, &portal, &idp, &user).await;
    assert_eq!(a.status, 302, "{}", a.body);
    let me = s.send(Method::GET, &format!("/portals/{portal}/me"), Some(&b.cookie("gatehouse_session").unwrap()), None).await;
    assert_eq!(me.body["teams"], json!([partners]));
    let id = me.body["id"].as_str().unwrap().to_string();
    let members = s.admin(Method::GET, &format!("/portals/{portal}/teams/{engineering}/developers"), None).await;
    assert_eq!(members.body["total"], 0, "{}", members.body);

    assert_eq!(s.set_state(&portal, &id, "revoked").await.status, 200);
    s.send(Method::GET, &format!("/portals/{portal}/me"), Some(&session), None).await.assert_problem(401);
    let (a, _) = sign_in(&s, &portal, &idp, &user).await;
    let p = problem_of(&a, 403).await;
    assert!(p["detail"].as_str().unwrap().contains("revoked"), "{p}");
}

/// A portal with teams (name, mapped group), an auto-approving provider mapping the groups to
/// them, and its client registered: (portal, idp, team ids).
async fn sso_portal_with_teams(s: &Stack, teams: &[(&str, &str)]) -> (String, String, Vec<String>) {
    let portal = s.portal(json!({})).await;
    let mut ids = Vec::new();
    let mut mappings = Vec::new();
    for (name, group) in teams {
        let r = s.admin(Method::POST, &format!("/portals/{portal}/teams"), Some(json!({"name": name}))).await;
        let id = r.body["id"].as_str().unwrap().to_string();
        mappings.push(json!({"group": group, "team_id": id}));
        ids.push(id);
    }
    let mut body = provider_body(s, "placeholder", json!(mappings));
    body["auto_approve"] = json!(true);
    let r = s.admin(Method::POST, &format!("/portals/{portal}/identity-providers"), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let idp = r.body["id"].as_str().unwrap().to_string();
    register_client(s, &portal, &idp).await;
    (portal, idp, ids)
}

async fn register_client(s: &Stack, portal: &str, idp: &str) -> String {
    let redirect = format!("{}/api/portals/{portal}/sso/{idp}/callback", api_origin(s));
    let reg = s
        .http
        .post(format!("{}/reg", issuer(s)))
        .bearer_auth(&s.env["GATEHOUSE_OIDC_ADMIN_KEY"])
        .json(&json!({"redirect_uris": [redirect]}))
        .send()
        .await
        .unwrap();
    let client: Value = reg.json().await.unwrap();
    let id = client["client_id"].as_str().unwrap().to_string();
    let r = s
        .admin(
            Method::PATCH,
            &format!("/portals/{portal}/identity-providers/{idp}"),
            Some(json!({"config": {"client_id": id, "client_secret": client["client_secret"]}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    id
}

#[tokio::test]
async fn an_existing_builtin_account_is_linked_only_when_the_provider_asserts_the_address_verified() {
    let s = stack();
    let (portal, idp, _) = sso_portal(&s, json!({}), true, json!([])).await;
    let verified_email = unique_email("linked");
    let builtin = s.approved_developer(&portal, &verified_email, None).await;
    let user = idp_user(&s, true, &[], Some(&verified_email)).await;
    let (a, b) = sign_in(&s, &portal, &idp, &user).await;
    assert_eq!(a.status, 302, "{}", a.body);
    let me = s.send(Method::GET, &format!("/portals/{portal}/me"), Some(&b.cookie("gatehouse_session").unwrap()), None).await;
    assert_eq!(me.body["id"], builtin.as_str(), "signed in as the builtin account");

    let unverified_email = unique_email("unlinked");
    s.approved_developer(&portal, &unverified_email, None).await;
    let user = idp_user(&s, false, &[], Some(&unverified_email)).await;
    let (a, _) = sign_in(&s, &portal, &idp, &user).await;
    let p = problem_of(&a, 409).await;
    assert!(p["detail"].as_str().unwrap().contains("verified"), "{p}");
    assert_eq!(developers_of(&s, &portal).await.len(), 2, "no account written");
}

#[tokio::test]
async fn a_wrong_state_a_replayed_callback_and_each_faulty_id_token_are_refused_and_no_account_is_written() {
    let s = stack();
    let (portal, idp, _) = sso_portal(&s, json!({}), true, json!([])).await;
    let client_id = {
        let r = s.admin(Method::GET, &format!("/portals/{portal}/identity-providers/{idp}"), None).await;
        r.body["config"]["client_id"].as_str().unwrap().to_string()
    };
    let user = idp_user(&s, true, &[], None).await;

    // A wrong state: the flow is used up, nothing written.
    let mut b = Browser::default();
    let cb = to_callback(&s, &mut b, &portal, &idp, &user).await;
    let tampered = cb.replace("state=", "state=x");
    let p = problem_of(&b.go(&s, Method::GET, &tampered, None).await, 401).await;
    assert!(p["detail"].as_str().unwrap().contains("state"), "{p}");
    // The real callback after that: the flow is gone.
    let p = problem_of(&b.go(&s, Method::GET, &cb, None).await, 401).await;
    assert!(p["detail"].as_str().unwrap().contains("start it again"), "{p}");

    // A replayed callback: the first signs in, the second finds nothing.
    let mut b = Browser::default();
    let cb = to_callback(&s, &mut b, &portal, &idp, &user).await;
    let flow_cookie = b.cookie("gatehouse_sso").unwrap();
    assert_eq!(b.go(&s, Method::GET, &cb, None).await.status, 302);
    b.cookies.push(("gatehouse_sso".into(), flow_cookie, "/".into()));
    problem_of(&b.go(&s, Method::GET, &cb, None).await, 401).await;
    let before = developers_of(&s, &portal).await.len();
    assert_eq!(before, 1);

    // Faulty ID tokens, one at a time, from a user who has no account yet.
    let fresh = idp_user(&s, true, &[], None).await;
    for (fault, word) in [
        (json!({"signing_key": "unpublished"}), "key"),
        (json!({"signing_key": "unpublished_with_published_kid"}), "signature"),
        (json!({"aud": "someone-else"}), "aud"),
        (json!({"iss": "http://127.0.0.1:1"}), "iss"),
        (json!({"expired": true}), "expired"),
        (json!({"omit_nonce": true}), "nonce"),
    ] {
        let r = s
            .http
            .put(format!("{}/__admin/clients/{client_id}/id-token-faults", issuer(&s)))
            .bearer_auth(&s.env["GATEHOUSE_OIDC_ADMIN_KEY"])
            .json(&fault)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let (a, _) = sign_in(&s, &portal, &idp, &fresh).await;
        let p = problem_of(&a, 401).await;
        assert!(p["detail"].as_str().unwrap().contains(word), "{fault}: {p}");
        assert_eq!(developers_of(&s, &portal).await.len(), before, "{fault}: no account written");
    }
}

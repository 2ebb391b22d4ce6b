//! Single sign-on (issue 17): a portal's OpenID Connect identity providers and the pure rules
//! of the sign-in flow (where a sign-in may return to, which teams a sign-in's groups give).
//! The client secret is held sealed (KMS ciphertext, opaque here) and never shown.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::Timestamp;
use super::model::Versioned;
use super::urls::{self, Http, UrlError, UrlRules};

/// At most this many providers per portal, scopes per provider and group mappings per provider.
pub const MAX_IDPS_PER_PORTAL: usize = 20;
pub const MAX_SCOPES: usize = 20;
pub const MAX_TEAM_MAPPINGS: usize = 50;

/// Which ID-token claims carry the address, the name and the groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimMappings {
    pub email: String,
    pub name: String,
    pub groups: String,
}

impl Default for ClaimMappings {
    fn default() -> Self {
        Self { email: "email".into(), name: "name".into(), groups: "groups".into() }
    }
}

/// An IdP group whose members join a team of the portal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMapping {
    pub group: String,
    pub team_id: Uuid,
}

/// A portal's OpenID Connect provider as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityProvider {
    pub id: Uuid,
    pub portal_id: Uuid,
    pub enabled: bool,
    pub display_name: String,
    pub issuer_url: String,
    pub client_id: String,
    /// The client secret sealed by the secret sealer (KMS ciphertext, base64); never shown.
    pub client_secret_sealed: String,
    pub scopes: Vec<String>,
    pub claim_mappings: ClaimMappings,
    pub auto_approve: bool,
    pub team_mappings: Vec<TeamMapping>,
    pub version: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

super::model::versioned!(IdentityProvider);

/// The provider as the API shows it: everything but the client secret.
#[derive(Debug, Serialize)]
pub struct IdentityProviderView<'a> {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub enabled: bool,
    pub display_name: &'a str,
    pub config: ConfigView<'a>,
    pub auto_approve: bool,
    pub team_mappings: &'a [TeamMapping],
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Serialize)]
pub struct ConfigView<'a> {
    pub issuer_url: &'a str,
    pub client_id: &'a str,
    pub scopes: &'a [String],
    pub claim_mappings: &'a ClaimMappings,
}

impl IdentityProvider {
    pub fn view(&self) -> IdentityProviderView<'_> {
        IdentityProviderView {
            id: self.id,
            kind: "oidc",
            enabled: self.enabled,
            display_name: &self.display_name,
            config: ConfigView {
                issuer_url: &self.issuer_url,
                client_id: &self.client_id,
                scopes: &self.scopes,
                claim_mappings: &self.claim_mappings,
            },
            auto_approve: self.auto_approve,
            team_mappings: &self.team_mappings,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// An issuer URL: `https` with a host, no credentials, query or fragment; `http` only on a
/// loopback host and only where the deployment allows it (the local stack). Kept as given (the
/// ID token's `iss` must equal it exactly), but for surrounding spaces.
pub fn parse_issuer(raw: &str, allow_loopback_http: bool) -> Result<String, String> {
    if raw.trim().len() > 500 {
        return Err("must be at most 500 characters".into());
    }
    let rules =
        UrlRules { http: if allow_loopback_http { Http::Loopback } else { Http::Never }, query: false, fragment: false, max_len: 500 };
    urls::parse(raw, rules).map(|u| u.raw).map_err(|e| match e {
        UrlError::Malformed => "must be an absolute https URL".to_string(),
        UrlError::Scheme if allow_loopback_http && raw.trim().get(..5).is_some_and(|s| s.eq_ignore_ascii_case("http:")) => {
            "may use http only on a loopback host".into()
        }
        UrlError::Scheme => "must be an https URL".into(),
        UrlError::Credentials | UrlError::Query | UrlError::Fragment => "must not carry credentials, a query or a fragment".into(),
    })
}

/// A bounded single-line text (names, client ids, claim names, groups).
pub fn parse_text(raw: &str, max: usize) -> Result<String, String> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(format!("must be 1 to {max} characters without control characters"));
    }
    Ok(t.to_string())
}

/// The scopes asked for: `openid` first (added when missing), each a scope token (RFC 6749
/// `scope-token`: printable ASCII without space, `"` or `\`), no duplicates.
pub fn parse_scopes(raw: Option<&[String]>) -> Result<Vec<String>, String> {
    let Some(raw) = raw else {
        return Ok(vec!["openid".into(), "email".into(), "profile".into()]);
    };
    let mut scopes = vec!["openid".to_string()];
    for s in raw {
        if s.is_empty() || s.len() > 100 || !s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\') {
            return Err(format!("{s:?} is not a scope (printable ASCII without spaces or quotes)"));
        }
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    if scopes.len() > MAX_SCOPES {
        return Err(format!("must list at most {MAX_SCOPES} scopes"));
    }
    Ok(scopes)
}

/// Where a sign-in may return to: a path of this portal's developer pages (`/portal/{p}` or
/// below it), nothing else (no scheme, host, `//`, backslash, `..` or control characters);
/// the portal's account page when none is given.
pub fn return_to(portal_id: Uuid, raw: Option<&str>) -> Result<String, String> {
    let base = format!("/portal/{portal_id}");
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(format!("{base}/account"));
    };
    let path = raw.split(['?', '#']).next().unwrap_or_default();
    let bad = raw.len() > 1000
        || raw.chars().any(|c| c.is_control() || c == '\\' || c == ' ')
        || raw.contains("//")
        || path
            .split('/')
            .any(|s| s == ".." || s == "." || s.to_ascii_lowercase().contains("%2e") || s.to_ascii_lowercase().contains("%2f"))
        || !(path == base || path.starts_with(&format!("{base}/")));
    if bad {
        return Err(format!("must be a path of this portal's pages ({base}/...)"));
    }
    Ok(raw.to_string())
}

/// The teams a sign-in changes: a developer joins every team mapped from a group it asserts
/// and leaves every team mapped by this provider from a group it no longer asserts; teams the
/// provider maps nothing to (joined by an admin) are left alone. Returns (join, leave), each
/// without duplicates, in mapping order.
pub fn team_changes(current: &[String], mappings: &[TeamMapping], groups: &[String]) -> (Vec<Uuid>, Vec<Uuid>) {
    let wanted: Vec<Uuid> = mappings.iter().filter(|m| groups.contains(&m.group)).map(|m| m.team_id).collect();
    let mut join = Vec::new();
    let mut leave = Vec::new();
    for m in mappings {
        let t = m.team_id;
        let member = current.contains(&t.to_string());
        if wanted.contains(&t) && !member && !join.contains(&t) {
            join.push(t);
        } else if !wanted.contains(&t) && member && !leave.contains(&t) {
            leave.push(t);
        }
    }
    (join, leave)
}

/// What a sign-in does about an address already held by another account of the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linking {
    /// No account holds the address (or none was asserted): create one.
    Create,
    /// A builtin account holds it and the provider asserts it verified: sign in as that account.
    Link,
    /// Refused (409): the provider does not assert the address verified.
    Unverified,
    /// Refused (409): the holder is another SSO account (another provider or subject).
    HeldBySso,
}

/// The linking rule: link to a builtin account only on a provider-asserted verified address.
pub fn linking(holder_provider: Option<&str>, email_verified: bool) -> Linking {
    match holder_provider {
        None => Linking::Create,
        Some("sso") => Linking::HeldBySso,
        Some(_) if email_verified => Linking::Link,
        Some(_) => Linking::Unverified,
    }
}

/// An authorization request to send the browser with: the provider's URL, and what the
/// callback needs (kept server side in the flow item).
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

/// A started sign-in, kept in one short-lived item bound to the browser by a cookie: its key
/// is the hash of the cookie's value; deleted on use.
#[derive(Debug, Clone, PartialEq)]
pub struct SsoFlow {
    /// SHA-256 hex of the `gatehouse_sso` cookie's value.
    pub binding_hash: String,
    pub portal_id: Uuid,
    pub idp_id: Uuid,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub return_to: String,
    pub expires_at: Timestamp,
}

/// How long a started sign-in may take.
pub const FLOW_TTL_SECONDS: i64 = 600;

/// Why a callback is refused (nothing is written). `Display` is the problem's sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("this sign-in was not started in this browser, was already used or has expired; start it again")]
    NoFlow,
    #[error("the state does not match the sign-in this browser started; start it again")]
    State,
    #[error("the identity provider answered: {0}")]
    Provider(String),
    #[error("the identity provider refused the authorization code (used already or expired); start the sign-in again")]
    CodeRefused,
    #[error("the identity provider returned no ID token")]
    NoIdToken,
    #[error("the ID token is signed by a key the identity provider does not publish")]
    UnknownKey,
    #[error("the ID token's signature does not verify")]
    Signature,
    #[error("the ID token is not meant for this portal (aud/azp)")]
    Audience,
    #[error("the ID token was issued by another issuer (iss)")]
    Issuer,
    #[error("the ID token has expired")]
    Expired,
    #[error("the ID token's nonce is missing or does not match this sign-in")]
    Nonce,
    #[error("the ID token was refused: {0}")]
    Other(String),
    #[error("the ID token has no usable {0} claim")]
    Claim(&'static str),
}

/// Who the provider says signed in, read through the provider's claim mappings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoIdentity {
    pub subject: String,
    /// The asserted address (lower-case normalised later), if any.
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

/// Reads the identity from an ID token's claims: `sub` always; the address, name and groups
/// from the mapped claims; `email_verified` only when the address comes from the standard
/// `email` claim (a verification flag says nothing about another claim); groups as an array
/// of strings (or one string).
pub fn map_claims(claims: &serde_json::Map<String, serde_json::Value>, m: &ClaimMappings) -> Result<SsoIdentity, Refusal> {
    let text = |k: &str| claims.get(k).and_then(|v| v.as_str()).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let subject = text("sub").filter(|s| s.len() <= 255).ok_or(Refusal::Claim("sub"))?;
    let email = text(&m.email);
    let email_verified = email.is_some() && m.email == "email" && claims.get("email_verified").and_then(|v| v.as_bool()) == Some(true);
    let groups = match claims.get(&m.groups) {
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|g| g.as_str().map(str::to_string)).collect(),
        Some(serde_json::Value::String(g)) => vec![g.clone()],
        _ => Vec::new(),
    };
    Ok(SsoIdentity { subject, email, email_verified, name: text(&m.name), groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issuer_must_be_https_unless_the_deployment_allows_http_on_loopback() {
        assert_eq!(parse_issuer(" https://login.acme.com/realms/x ", false).unwrap(), "https://login.acme.com/realms/x");
        assert!(parse_issuer("http://127.0.0.1:9400", false).is_err());
        assert_eq!(parse_issuer("http://127.0.0.1:9400", true).unwrap(), "http://127.0.0.1:9400");
        assert!(parse_issuer("http://localhost:9400", true).is_ok());
        assert!(parse_issuer("http://login.acme.com", true).is_err(), "not loopback");
        assert!(parse_issuer("ftp://login.acme.com", true).is_err());
        assert!(parse_issuer("https://u:p@login.acme.com", false).is_err());
        assert!(parse_issuer("https://login.acme.com/?a=1", false).is_err());
        assert!(parse_issuer("login.acme.com", false).is_err());
    }

    #[test]
    fn scopes_always_start_with_openid_and_refuse_spaces() {
        assert_eq!(parse_scopes(None).unwrap(), ["openid", "email", "profile"]);
        assert_eq!(parse_scopes(Some(&["email".into(), "groups".into(), "email".into()])).unwrap(), ["openid", "email", "groups"]);
        assert!(parse_scopes(Some(&["a b".into()])).is_err());
        assert!(parse_scopes(Some(&[String::new()])).is_err());
    }

    #[test]
    fn return_to_is_only_a_path_of_this_portals_pages_and_defaults_to_the_account_page() {
        let p = Uuid::new_v4();
        assert_eq!(return_to(p, None).unwrap(), format!("/portal/{p}/account"));
        assert_eq!(return_to(p, Some("")).unwrap(), format!("/portal/{p}/account"));
        assert_eq!(return_to(p, Some(&format!("/portal/{p}/apps?x=1"))).unwrap(), format!("/portal/{p}/apps?x=1"));
        assert!(return_to(p, Some(&format!("/portal/{p}"))).is_ok());
        let other = Uuid::new_v4();
        for bad in [
            format!("/portal/{other}/account"),
            format!("https://evil.example/portal/{p}/account"),
            format!("//evil.example/portal/{p}/"),
            format!("/portal/{p}/../{other}/account"),
            format!("/portal/{p}/%2e%2e/{other}"),
            format!("/portal/{p}\\evil"),
            format!("/portal/{p}x/account"),
            "/api/portals".to_string(),
            "account".to_string(),
        ] {
            assert!(return_to(p, Some(&bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_sign_in_joins_mapped_teams_of_its_groups_and_leaves_mapped_teams_of_groups_it_lost() {
        let (a, b, c, manual) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let maps = vec![
            TeamMapping { group: "partners".into(), team_id: a },
            TeamMapping { group: "engineering".into(), team_id: b },
            TeamMapping { group: "support".into(), team_id: c },
            TeamMapping { group: "staff".into(), team_id: a },
        ];
        let groups = vec!["partners".to_string(), "engineering".to_string()];
        assert_eq!(team_changes(&[], &maps, &groups), (vec![a, b], vec![]));
        let current = vec![a.to_string(), c.to_string(), manual.to_string()];
        assert_eq!(team_changes(&current, &maps, &["staff".to_string()]), (vec![], vec![c]), "a stays: another group maps to it");
        assert_eq!(team_changes(&current, &maps, &[]), (vec![], vec![a, c]), "the admin's team stays");
    }

    #[test]
    fn claims_are_read_through_the_mappings_and_a_verified_flag_counts_only_for_the_email_claim() {
        let claims = serde_json::json!({"sub": "s1", "email": "A@x.com", "email_verified": true, "mail": "b@y.com",
            "name": "Ann", "groups": ["g1", 3, "g2"], "role": "admin"});
        let claims = claims.as_object().unwrap();
        let id = map_claims(claims, &ClaimMappings::default()).unwrap();
        assert_eq!(
            id,
            SsoIdentity {
                subject: "s1".into(),
                email: Some("A@x.com".into()),
                email_verified: true,
                name: Some("Ann".into()),
                groups: vec!["g1".into(), "g2".into()]
            }
        );
        let custom = ClaimMappings { email: "mail".into(), name: "nickname".into(), groups: "role".into() };
        let id = map_claims(claims, &custom).unwrap();
        assert_eq!((id.email.as_deref(), id.email_verified, id.name, id.groups), (Some("b@y.com"), false, None, vec!["admin".to_string()]));
        assert_eq!(map_claims(serde_json::json!({"email": "a@x.com"}).as_object().unwrap(), &custom), Err(Refusal::Claim("sub")));
    }

    #[test]
    fn an_address_links_to_a_builtin_account_only_when_the_provider_asserts_it_verified() {
        assert_eq!(linking(None, false), Linking::Create);
        assert_eq!(linking(Some("builtin"), true), Linking::Link);
        assert_eq!(linking(Some("builtin"), false), Linking::Unverified);
        assert_eq!(linking(Some("sso"), true), Linking::HeldBySso);
    }
}

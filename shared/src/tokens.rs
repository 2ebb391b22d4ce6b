//! Every token Gatehouse hands out, in one place: the prefixes, the session and API-key
//! formats, and the link tokens (invite, reset, verification) derived from the token secret.
//!
//! | prefix | token | format |
//! |---|---|---|
//! | `gha_` | admin API token | random |
//! | `ghs_` | developer session | `ghs_<developer>.<random>` |
//! | `ghk_` | API key | `ghk_<developer><application>.<random>` |
//! | `ghi_` | invite link | `ghi_<invite>.<HMAC>` |
//! | `ghr_` | password-reset link | `ghr_<developer>.<HMAC>` |
//! | `ghv_` | email-verification link | `ghv_<developer>.<HMAC>` |

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use uuid::Uuid;

use crate::config::Config;
use crate::crypto::{derive_token, token_hash, MintedToken};
use crate::domain::{Developer, LifecycleEvent, LinkPurpose, LinkToken, Timestamp};

pub const ADMIN_TOKEN_PREFIX: &str = "gha_";
pub const SESSION_TOKEN_PREFIX: &str = "ghs_";
pub const API_KEY_PREFIX: &str = "ghk_";
pub const INVITE_TOKEN_PREFIX: &str = "ghi_";
pub const RESET_TOKEN_PREFIX: &str = "ghr_";
pub const VERIFY_TOKEN_PREFIX: &str = "ghv_";

/// The token prefix of links for this purpose.
pub fn link_prefix(purpose: LinkPurpose) -> &'static str {
    match purpose {
        LinkPurpose::Reset => RESET_TOKEN_PREFIX,
        LinkPurpose::Verify => VERIFY_TOKEN_PREFIX,
    }
}

fn random_part() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A session token naming its developer: `ghs_<developer id>.<256 random bits>`.
pub fn mint_session_token(developer: Uuid) -> MintedToken {
    let token = format!("{SESSION_TOKEN_PREFIX}{}.{}", developer.simple(), random_part());
    let hash = token_hash(&token);
    MintedToken { token, hash }
}

/// An API key naming its developer and application: `ghk_<developer><application>.<256 random bits>`.
pub fn mint_api_key(developer: Uuid, application: Uuid) -> MintedToken {
    let token = format!("{API_KEY_PREFIX}{}{}.{}", developer.simple(), application.simple(), random_part());
    let hash = token_hash(&token);
    MintedToken { token, hash }
}

/// The developer and application a key names (`ghk_<developer><application>.<secret>`).
pub fn key_ids(key: &str) -> Option<(Uuid, Uuid)> {
    let rest = key.strip_prefix(API_KEY_PREFIX)?;
    let (ids, secret) = rest.split_once('.')?;
    if ids.len() != 64 || secret.len() < 40 || secret.len() > 64 {
        return None;
    }
    Some((Uuid::try_parse(&ids[..32]).ok()?, Uuid::try_parse(&ids[32..]).ok()?))
}

/// The invite link token of `invite` for `nonce`.
pub fn invite_token(config: &Config, invite: Uuid, nonce: &str) -> MintedToken {
    derive_token(&config.token_secret, INVITE_TOKEN_PREFIX, "invite", invite, nonce)
}

/// A fresh single-use link token for `developer`.
pub fn new_link(config: &Config, developer: &Developer, purpose: LinkPurpose, ttl_seconds: u64, now: Timestamp) -> LinkToken {
    link_with_nonce(config, developer, purpose, crate::crypto::nonce(), ttl_seconds, now)
}

/// The link token of `developer` derived from `nonce`, issued at `at`.
pub fn link_with_nonce(
    config: &Config,
    developer: &Developer,
    purpose: LinkPurpose,
    nonce: String,
    ttl_seconds: u64,
    at: Timestamp,
) -> LinkToken {
    let minted = derive_token(&config.token_secret, link_prefix(purpose), purpose.as_str(), developer.id, &nonce);
    LinkToken {
        developer_id: developer.id,
        portal_id: developer.portal_id,
        purpose,
        nonce,
        token_hash: minted.hash,
        created_at: at,
        expires_at: at + chrono::Duration::seconds(ttl_seconds as i64),
    }
}

/// The nonce of the reset link a reset request (event) issues: derived from the secret and the
/// event id, so a replayed event rebuilds the same link and mails the same token, and nobody
/// without the secret can predict it.
pub fn reset_nonce(config: &Config, request: Uuid) -> String {
    derive_token(&config.token_secret, "", "reset-request", request, "nonce").token.rsplit('.').next().unwrap_or_default()[..22].to_string()
}

/// The link token the mail for `event` carries (rebuilt from the event's nonce and the secret).
pub fn link_for_event(config: &Config, purpose: LinkPurpose, event: &LifecycleEvent) -> Option<String> {
    let nonce = event.token_nonce.as_deref()?;
    Some(derive_token(&config.token_secret, link_prefix(purpose), purpose.as_str(), event.developer_id?, nonce).token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::token_id;

    #[test]
    fn a_session_token_names_its_developer_and_is_random() {
        let id = Uuid::new_v4();
        let a = mint_session_token(id);
        assert_eq!(token_id(&a.token, SESSION_TOKEN_PREFIX), Some(id));
        assert_ne!(a.token, mint_session_token(id).token);
    }

    #[test]
    fn a_key_names_its_developer_and_application() {
        let (d, a) = (Uuid::new_v4(), Uuid::new_v4());
        let k = mint_api_key(d, a);
        assert_eq!(key_ids(&k.token), Some((d, a)));
        assert_eq!(key_ids("ghk_short.x"), None);
        assert_eq!(key_ids(&k.token.replace("ghk_", "ghs_")), None);
    }

    #[test]
    fn a_replayed_reset_request_rebuilds_the_same_link_and_another_request_does_not() {
        let config = crate::fakes::config();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(reset_nonce(&config, a), reset_nonce(&config, a));
        assert_ne!(reset_nonce(&config, a), reset_nonce(&config, b));
        assert_eq!(reset_nonce(&config, a).len(), 22, "128 bits, like a random nonce");
        let other = Config {
            token_secret: crate::config::TokenSecret::new("another secret, also at least 32 bytes long").unwrap(),
            ..config.clone()
        };
        assert_ne!(reset_nonce(&config, a), reset_nonce(&other, a), "unpredictable without the secret");
    }
}

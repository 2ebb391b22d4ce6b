//! The console's session (issue 16), the pure parts: the cookie, the id minted at sign-in and
//! stored only as its SHA-256, the lifetime, and the CSRF token of the signed-in forms.

use crate::crypto::{mint_token, token_hash};
use crate::domain::Timestamp;
use crate::pages::web;
use crate::store::{AdminToken, ConsoleSession};

/// The console's session cookie (`Path=/console/`), apart from the developer pages' one.
pub const COOKIE: &str = "gh_console";
/// Where the console lives; every console cookie is scoped to it.
pub const BASE: &str = "/console/";
/// A console session lasts an hour from sign-in (then the token is asked for again).
pub const TTL_SECONDS: i64 = 3600;

/// A new session for `token`: the cookie's value (256 random bits, `ghc_` prefix) and the
/// record to store (its hash, never the id).
pub fn start(token: &AdminToken, now: Timestamp) -> (String, ConsoleSession) {
    let minted = mint_token("ghc_");
    let session = ConsoleSession {
        id_hash: minted.hash,
        admin_token_hash: token.token_hash.clone(),
        created_at: now,
        expires_at: now + chrono::Duration::seconds(TTL_SECONDS),
    };
    (minted.token, session)
}

/// The stored session's key for a cookie value; `None` for a value that cannot be one.
pub fn id_hash(cookie: &str) -> Option<String> {
    (cookie.starts_with("ghc_") && cookie.len() <= 128).then(|| token_hash(cookie))
}

/// Whether a stored session still counts at `now` (the TTL reaper is late by up to days).
pub fn live(session: &ConsoleSession, now: Timestamp) -> bool {
    now < session.expires_at
}

/// The CSRF token of a signed-in console page: bound to the session and apart from the
/// developer pages' tokens.
pub fn csrf(key: &[u8], cookie: &str) -> String {
    web::session_csrf(key, &format!("console:{cookie}"))
}

/// The `Set-Cookie` of a new session (`Max-Age` its lifetime).
pub fn set_cookie(value: &str, loopback: bool) -> String {
    web::set_cookie(COOKIE, value, BASE, Some(TTL_SECONDS), loopback)
}

/// The token's name as the header shows it: its name and the last characters of its id.
pub fn who(token: &AdminToken) -> String {
    let tail: String = token.id.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("{} …{tail}", token.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> AdminToken {
        AdminToken {
            id: "tok-1234abcd".into(),
            name: "ops".into(),
            scope: "*".into(),
            token_hash: "h".repeat(64),
            created_at: chrono::Utc::now(),
            expires_at: None,
        }
    }

    #[test]
    fn a_session_id_is_random_stored_only_as_its_hash_and_lasts_an_hour() {
        let now = chrono::Utc::now();
        let (a, stored) = start(&token(), now);
        let (b, _) = start(&token(), now);
        assert_ne!(a, b);
        assert!(a.len() >= 4 + 22, "at least 128 random bits");
        assert_eq!(id_hash(&a).as_deref(), Some(stored.id_hash.as_str()));
        assert!(!stored.id_hash.contains(&a[4..]), "the id itself is not stored");
        assert_eq!(stored.admin_token_hash, token().token_hash);
        assert!(live(&stored, now + chrono::Duration::seconds(TTL_SECONDS - 1)));
        assert!(!live(&stored, now + chrono::Duration::seconds(TTL_SECONDS)), "expired at its expiry");
    }

    #[test]
    fn a_cookie_that_is_no_console_session_is_not_looked_up() {
        assert_eq!(id_hash("ghs_developer-session"), None);
        assert_eq!(id_hash(""), None);
        assert_eq!(id_hash(&format!("ghc_{}", "x".repeat(200))), None);
    }

    #[test]
    fn the_cookie_is_http_only_lax_scoped_to_the_console_and_secure_off_loopback() {
        assert_eq!(set_cookie("ghc_x", false), "gh_console=ghc_x; Path=/console/; HttpOnly; SameSite=Lax; Max-Age=3600; Secure");
        assert!(!set_cookie("ghc_x", true).contains("Secure"));
    }

    #[test]
    fn console_csrf_tokens_differ_from_the_developer_pages_tokens_of_the_same_value() {
        assert_ne!(csrf(b"k", "ghc_1"), web::session_csrf(b"k", "ghc_1"));
        assert_ne!(csrf(b"k", "ghc_1"), csrf(b"k", "ghc_2"));
        assert_eq!(who(&token()), "ops …abcd");
    }
}

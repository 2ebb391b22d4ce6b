//! Password hashing (Argon2id, OWASP parameters, off the async runtime) and opaque tokens
//! (256 random bits, stored only as SHA-256 hashes).

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::Password;
use crate::error::AppError;

/// OWASP Password Storage Cheat Sheet: Argon2id, m = 19 MiB, t = 2, p = 1.
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
pub const ARGON2_ITERATIONS: u32 = 2;
pub const ARGON2_PARALLELISM: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM, None).expect("static Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes synchronously (CPU-bound: call through [`hash_password`] from async code).
pub fn hash_password_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// Hashes a password on the blocking pool so the runtime keeps serving.
pub async fn hash_password(password: &Password) -> Result<String, AppError> {
    let pw = password.expose().to_string();
    tokio::task::spawn_blocking(move || hash_password_blocking(&pw))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| AppError::internal(e.to_string()))
}

/// Verifies a password against a PHC hash string; `None` (unknown account) still spends one
/// hash on a dummy so the timing does not tell whether the account exists.
pub async fn verify_password(password: String, phc: Option<String>) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let phc = phc.unwrap_or_else(|| DUMMY_HASH.to_string());
        let parsed = PasswordHash::new(&phc).map_err(|e| AppError::internal(e.to_string()))?;
        Ok(argon2().verify_password(password.as_bytes(), &parsed).is_ok() && phc != DUMMY_HASH)
    })
    .await
    .map_err(AppError::internal)?
}

/// A valid Argon2id hash of a random string nobody knows, with the production parameters.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$K1b4Cq1cXEG8hEVcYy6Yx1C0Yx7pW3v0LhGQ0b5m6oU";

/// A freshly minted secret token: the value handed out once, and the hash that is stored.
pub struct MintedToken {
    pub token: String,
    pub hash: String,
}

/// 32 random bytes, base64url, with a readable prefix (`gha_` admin, `ghs_` session, ...).
pub fn mint_token(prefix: &str) -> MintedToken {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = token_hash(&token);
    MintedToken { token, hash }
}

/// A link token (invite, reset, verification) derived from the server secret:
/// `<prefix><id>.<base64url HMAC-SHA256(secret, purpose|id|nonce)>` (256 bits). The table keeps
/// only the nonce and the token's SHA-256, so nothing stored reveals a usable token, yet the
/// stream consumer can rebuild the link for the mail from the event (id + nonce) and the secret.
pub fn derive_token(secret: &[u8], prefix: &str, purpose: &str, id: uuid::Uuid, nonce: &str) -> MintedToken {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(format!("{purpose}|{id}|{nonce}").as_bytes());
    let token = format!("{prefix}{}.{}", id.simple(), URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
    let hash = token_hash(&token);
    MintedToken { token, hash }
}

/// The id a derived or session token names (`<prefix><32 hex>.<secret part>`), if well-formed.
pub fn token_id(token: &str, prefix: &str) -> Option<uuid::Uuid> {
    let rest = token.strip_prefix(prefix)?;
    let (id, secret) = rest.split_once('.')?;
    if id.len() != 32 || secret.len() < 40 || secret.len() > 64 {
        return None;
    }
    uuid::Uuid::try_parse(id).ok()
}

/// A random nonce (128 bits, base64url).
pub fn nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a token: hex SHA-256.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time comparison of two hashes (or any two secrets).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// SHA-256 of arbitrary bytes, hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_hash_is_argon2id_with_owasp_parameters_and_verifies() {
        let h = hash_password_blocking("correct horse battery staple").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        let parsed = PasswordHash::new(&h).unwrap();
        assert!(argon2().verify_password(b"correct horse battery staple", &parsed).is_ok());
        assert!(argon2().verify_password(b"wrong", &parsed).is_err());
    }

    #[test]
    fn the_dummy_hash_parses_so_unknown_accounts_spend_a_real_hash() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[tokio::test]
    async fn verifying_against_no_account_is_false_even_for_any_password() {
        assert!(!verify_password("anything at all".into(), None).await.unwrap());
    }

    #[test]
    fn tokens_carry_256_random_bits_and_are_stored_as_sha256() {
        let a = mint_token("gha_");
        let b = mint_token("gha_");
        assert_ne!(a.token, b.token);
        assert!(a.token.starts_with("gha_"));
        assert_eq!(URL_SAFE_NO_PAD.decode(&a.token[4..]).unwrap().len(), 32);
        assert_eq!(a.hash, token_hash(&a.token));
        assert_eq!(a.hash.len(), 64);
        assert!(!a.hash.contains(&a.token));
    }

    #[test]
    fn a_derived_token_depends_on_secret_purpose_id_and_nonce_and_names_its_id() {
        let id = uuid::Uuid::new_v4();
        let a = derive_token(b"secret", "ghi_", "invite", id, "n1");
        assert_eq!(a.token, derive_token(b"secret", "ghi_", "invite", id, "n1").token, "deterministic");
        assert_ne!(a.token, derive_token(b"other", "ghi_", "invite", id, "n1").token);
        assert_ne!(a.token, derive_token(b"secret", "ghi_", "reset", id, "n1").token);
        assert_ne!(a.token, derive_token(b"secret", "ghi_", "invite", id, "n2").token);
        assert_eq!(token_id(&a.token, "ghi_"), Some(id));
        assert_eq!(token_id(&a.token, "ghr_"), None);
        assert_eq!(token_id("ghi_nonsense", "ghi_"), None);
        assert_eq!(a.hash, token_hash(&a.token));
    }

    #[test]
    fn constant_time_eq_compares_exactly() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}

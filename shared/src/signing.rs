//! Webhook secrets and Standard Webhooks signatures: `whsec_` + base64 of 32 random bytes; the
//! signature is `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, one per secret
//! (space-separated) while a rotation keeps the old secret signing.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

pub const SECRET_PREFIX: &str = "whsec_";

/// A new endpoint secret (shown once).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// One `v1,` signature of a message with one secret.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> Result<String, String> {
    let key = STANDARD.decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret)).map_err(|_| "a secret must be base64".to_string())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(format!("{msg_id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// The `webhook-signature` header: a signature per secret, space-separated.
pub fn signature_header(secrets: &[&str], msg_id: &str, timestamp: i64, body: &str) -> Result<String, String> {
    Ok(secrets.iter().map(|s| sign(s, msg_id, timestamp, body)).collect::<Result<Vec<_>, _>>()?.join(" "))
}

/// The Standard Webhooks headers of one attempt: `webhook-id` (the event id, the same on every
/// attempt), `webhook-timestamp` (the attempt's, in seconds) and `webhook-signature` (one
/// signature per secret).
pub fn webhook_headers(secrets: &[&str], msg_id: &str, timestamp: i64, body: &str) -> Result<[(&'static str, String); 3], String> {
    Ok([
        ("webhook-id", msg_id.to_string()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature_header(secrets, msg_id, timestamp, body)?),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_matches_the_standard_webhooks_test_vector() {
        let sig = sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, r#"{"test": 2432232314}"#);
        assert_eq!(sig.unwrap(), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn during_a_rotation_both_secrets_sign_and_a_changed_body_or_time_changes_the_signature() {
        let (old, new) = (new_secret(), new_secret());
        assert!(old.starts_with(SECRET_PREFIX) && STANDARD.decode(&old[6..]).unwrap().len() == 32 && old != new);
        let header = signature_header(&[&new, &old], "evt", 10, "{}").unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts, [sign(&new, "evt", 10, "{}").unwrap(), sign(&old, "evt", 10, "{}").unwrap()]);
        assert_ne!(sign(&new, "evt", 10, "{ }").unwrap(), parts[0]);
        assert_ne!(sign(&new, "evt", 11, "{}").unwrap(), parts[0]);
        assert!(sign("whsec_***", "evt", 10, "{}").is_err());
    }

    #[test]
    fn an_attempt_carries_the_event_id_its_own_timestamp_and_a_signature_per_secret() {
        let (old, new) = (new_secret(), new_secret());
        let [id, ts, sig] = webhook_headers(&[&new, &old], "evt_1", 1_700_000_000, "{}").unwrap();
        assert_eq!((id.0, id.1.as_str()), ("webhook-id", "evt_1"));
        assert_eq!((ts.0, ts.1.as_str()), ("webhook-timestamp", "1700000000"));
        assert_eq!(sig, ("webhook-signature", signature_header(&[&new, &old], "evt_1", 1_700_000_000, "{}").unwrap()));
        let later = webhook_headers(&[&new], "evt_1", 1_700_000_005, "{}").unwrap();
        assert_eq!(later[0].1, "evt_1", "the same webhook-id on a retry");
        assert_ne!(later[2].1, sig.1);
    }
}

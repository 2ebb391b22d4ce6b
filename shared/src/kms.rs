//! The secret sealer over AWS KMS: `Encrypt`/`Decrypt` under one symmetric key with the
//! record's encryption context (a ciphertext moved to another provider does not open). The
//! ciphertext is stored base64; plaintexts and ciphertexts are never logged.

use aws_sdk_kms::primitives::Blob;
use base64::Engine;

use crate::error::{error_chain, AppError};
use crate::store::SecretSealer;

#[derive(Clone)]
pub struct Kms {
    client: aws_sdk_kms::Client,
    /// `GATEHOUSE_KMS_KEY_ID`: the key id, ARN or alias; `None` where none is configured.
    key_id: Option<String>,
}

impl Kms {
    pub fn new(client: aws_sdk_kms::Client, key_id: Option<String>) -> Self {
        Self { client, key_id }
    }
}

fn unavailable(what: &str, e: &dyn std::error::Error) -> AppError {
    tracing::error!(error = %error_chain(e), "KMS {what} failed");
    AppError::Unavailable(format!("the key service could not {what}"))
}

impl SecretSealer for Kms {
    async fn seal(&self, plaintext: &str, context: &[(&str, String)]) -> Result<String, AppError> {
        let key_id = self
            .key_id
            .as_deref()
            .ok_or_else(|| AppError::internal("GATEHOUSE_KMS_KEY_ID is not set: this function cannot seal secrets"))?;
        let mut req = self.client.encrypt().key_id(key_id).plaintext(Blob::new(plaintext.as_bytes()));
        for (k, v) in context {
            req = req.encryption_context(*k, v);
        }
        let out = req.send().await.map_err(|e| unavailable("encrypt", &e))?;
        let blob = out.ciphertext_blob.ok_or_else(|| AppError::internal("KMS returned no ciphertext"))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(blob.as_ref()))
    }

    async fn open(&self, sealed: &str, context: &[(&str, String)]) -> Result<String, AppError> {
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(sealed).map_err(|_| AppError::internal("a sealed secret is not base64"))?;
        let mut req = self.client.decrypt().ciphertext_blob(Blob::new(bytes));
        if let Some(k) = &self.key_id {
            req = req.key_id(k);
        }
        for (k, v) in context {
            req = req.encryption_context(*k, v);
        }
        let out = req.send().await.map_err(|e| unavailable("decrypt", &e))?;
        let plain = out.plaintext.ok_or_else(|| AppError::internal("KMS returned no plaintext"))?;
        String::from_utf8(plain.into_inner()).map_err(|_| AppError::internal("a sealed secret is not UTF-8"))
    }
}

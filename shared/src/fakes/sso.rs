//! Single sign-on ports in memory: identity providers, and a sealer that checks the context.

use base64::Engine;
use uuid::Uuid;

use super::{lock, MemStore};
use crate::domain::IdentityProvider;
use crate::error::AppError;
use crate::store::{IdpStore, SecretSealer, StoreError, StoreResult};

impl IdpStore for MemStore {
    async fn create_idp(&self, idp: &IdentityProvider) -> StoreResult<()> {
        let _tx = self.tx();
        let mut idps = lock(&self.idps);
        if idps.contains_key(&idp.id) {
            return Err(StoreError::Conflict);
        }
        idps.insert(idp.id, idp.clone());
        Ok(())
    }
    async fn get_idp(&self, portal_id: Uuid, id: Uuid) -> StoreResult<Option<IdentityProvider>> {
        Ok(lock(&self.idps).get(&id).filter(|i| i.portal_id == portal_id).cloned())
    }
    async fn list_idps(&self, portal_id: Uuid) -> StoreResult<Vec<IdentityProvider>> {
        let mut list: Vec<IdentityProvider> = lock(&self.idps).values().filter(|i| i.portal_id == portal_id).cloned().collect();
        list.sort_by_key(|i| i.id);
        Ok(list)
    }
    async fn update_idp(&self, idp: &IdentityProvider) -> StoreResult<()> {
        let _tx = self.tx();
        let mut idps = lock(&self.idps);
        match idps.get(&idp.id) {
            Some(old) if old.version + 1 == idp.version => {
                idps.insert(idp.id, idp.clone());
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }
    async fn delete_idp(&self, idp: &IdentityProvider) -> StoreResult<()> {
        let _tx = self.tx();
        let mut idps = lock(&self.idps);
        match idps.get(&idp.id) {
            Some(old) if old.version == idp.version => {
                idps.remove(&idp.id);
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }
}

/// Seals as `sealed:<base64 of context|plaintext>` and opens only under the same context, as
/// KMS refuses a ciphertext under another encryption context.
#[derive(Default)]
pub struct FakeSealer;

fn context_text(context: &[(&str, String)]) -> String {
    context.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

impl SecretSealer for FakeSealer {
    async fn seal(&self, plaintext: &str, context: &[(&str, String)]) -> Result<String, AppError> {
        let raw = format!("{}|{plaintext}", context_text(context));
        Ok(format!("sealed:{}", base64::engine::general_purpose::STANDARD.encode(raw)))
    }
    async fn open(&self, sealed: &str, context: &[(&str, String)]) -> Result<String, AppError> {
        let raw = sealed.strip_prefix("sealed:").and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
        let raw = raw.and_then(|r| String::from_utf8(r).ok()).ok_or_else(|| AppError::internal("not a sealed value"))?;
        let (ctx, plain) = raw.split_once('|').ok_or_else(|| AppError::internal("not a sealed value"))?;
        if ctx != context_text(context) {
            return Err(AppError::internal("sealed under another context"));
        }
        Ok(plain.to_string())
    }
}

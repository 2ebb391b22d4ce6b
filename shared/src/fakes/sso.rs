//! Single sign-on ports in memory: identity providers, sign-in flows and subject markers, a
//! sealer that checks the context, and a relying party that answers what a test sets.

use base64::Engine;
use uuid::Uuid;

use super::{lock, MemStore};
use crate::domain::idp::{AuthRequest, Refusal, SsoFlow};
use crate::domain::IdentityProvider;
use crate::error::AppError;
use crate::store::{DeveloperStore, IdpStore, NewDeveloper, OidcClient, RegisterError, SecretSealer, SsoStore, StoreError, StoreResult};

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

impl SsoStore for MemStore {
    async fn put_flow(&self, flow: &SsoFlow) -> StoreResult<()> {
        lock(&self.sso_flows).insert(flow.binding_hash.clone(), flow.clone());
        Ok(())
    }
    async fn take_flow(&self, binding_hash: &str) -> StoreResult<Option<SsoFlow>> {
        Ok(lock(&self.sso_flows).remove(binding_hash))
    }
    async fn find_subject(&self, portal_id: Uuid, issuer: &str, subject: &str) -> StoreResult<Option<Uuid>> {
        Ok(lock(&self.sso_subjects).get(&(portal_id, issuer.to_string(), subject.to_string())).copied())
    }
    async fn register_sso(&self, new: &NewDeveloper, issuer: &str, subject: &str, replaces: Option<Uuid>) -> Result<(), RegisterError> {
        let key = (new.developer.portal_id, issuer.to_string(), subject.to_string());
        // The marker is reserved first and given back if the developer's write is refused.
        let previous = {
            let mut subjects = lock(&self.sso_subjects);
            let previous = subjects.get(&key).copied();
            if previous.is_some() && previous != replaces {
                return Err(RegisterError::Store(StoreError::Conflict));
            }
            subjects.insert(key.clone(), new.developer.id);
            previous
        };
        let written = self.register(new).await;
        if written.is_err() {
            let mut subjects = lock(&self.sso_subjects);
            match previous {
                Some(p) => subjects.insert(key, p),
                None => subjects.remove(&key),
            };
        }
        written
    }
    async fn link_subject(
        &self,
        portal_id: Uuid,
        issuer: &str,
        subject: &str,
        developer_id: Uuid,
        replaces: Option<Uuid>,
    ) -> StoreResult<()> {
        let mut subjects = lock(&self.sso_subjects);
        let key = (portal_id, issuer.to_string(), subject.to_string());
        if subjects.get(&key).is_some_and(|p| Some(*p) != replaces) {
            return Err(StoreError::Conflict);
        }
        subjects.insert(key, developer_id);
        Ok(())
    }
}

/// The relying party in memory: the authorization URL names the state; `finish` answers the
/// claims (or refusal) a test sets.
#[derive(Default)]
pub struct FakeOidc {
    pub answer: std::sync::Mutex<Option<Result<serde_json::Map<String, serde_json::Value>, Refusal>>>,
}

impl FakeOidc {
    pub fn answers(&self, claims: serde_json::Value) {
        *lock(&self.answer) = Some(Ok(claims.as_object().cloned().unwrap_or_default()));
    }
    pub fn refuses(&self, r: Refusal) {
        *lock(&self.answer) = Some(Err(r));
    }
}

impl OidcClient for FakeOidc {
    async fn start(&self, idp: &IdentityProvider, redirect_uri: &str) -> Result<AuthRequest, AppError> {
        let state = crate::crypto::nonce();
        Ok(AuthRequest {
            url: format!("{}/auth?state={state}&redirect_uri={redirect_uri}", idp.issuer_url),
            state,
            nonce: "n".into(),
            verifier: "v".into(),
        })
    }
    async fn finish(
        &self,
        _idp: &IdentityProvider,
        client_secret: String,
        _redirect_uri: &str,
        _code: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<Result<serde_json::Map<String, serde_json::Value>, Refusal>, AppError> {
        assert_eq!(
            (client_secret.as_str(), verifier, nonce),
            ("s3cret-value", "v", "n"),
            "the opened secret and the flow's verifier and nonce"
        );
        Ok(lock(&self.answer).clone().expect("a test sets the answer"))
    }
}

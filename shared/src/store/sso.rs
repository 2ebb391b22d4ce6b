//! Storage ports: single sign-on: identity providers, sealed secrets, the sign-in flow's items, the OIDC client.

use std::future::Future;

use uuid::Uuid;

use crate::error::AppError;

use super::*;

/// A portal's identity providers (single sign-on, issue 17).
pub trait IdpStore: Send + Sync {
    /// Creates a provider (Conflict if its id exists).
    fn create_idp(&self, idp: &crate::domain::IdentityProvider) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_idp(&self, portal_id: Uuid, id: Uuid) -> impl Future<Output = StoreResult<Option<crate::domain::IdentityProvider>>> + Send;
    /// Every provider of a portal (at most `MAX_IDPS_PER_PORTAL`), oldest first.
    fn list_idps(&self, portal_id: Uuid) -> impl Future<Output = StoreResult<Vec<crate::domain::IdentityProvider>>> + Send;
    /// Replaces the provider if its stored version is still `idp.version - 1`.
    fn update_idp(&self, idp: &crate::domain::IdentityProvider) -> impl Future<Output = StoreResult<()>> + Send;
    /// Deletes the provider if its stored version is still `idp.version`.
    fn delete_idp(&self, idp: &crate::domain::IdentityProvider) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Seals secrets held at rest (client secrets of identity providers) under a key the table
/// never sees (KMS), bound to the record they belong to (`context`: the encryption context).
pub trait SecretSealer: Send + Sync {
    /// The ciphertext of `plaintext` (opaque text to store).
    fn seal(&self, plaintext: &str, context: &[(&str, String)]) -> impl Future<Output = Result<String, AppError>> + Send;
    /// The plaintext of a sealed value, with the context it was sealed under.
    fn open(&self, sealed: &str, context: &[(&str, String)]) -> impl Future<Output = Result<String, AppError>> + Send;
}

/// The sign-in flows of single sign-on, and the (issuer, subject) markers of SSO accounts.
pub trait SsoStore: Send + Sync {
    /// Stores a started sign-in (with its TTL).
    fn put_flow(&self, flow: &crate::domain::idp::SsoFlow) -> impl Future<Output = StoreResult<()>> + Send;
    /// Deletes and returns the sign-in bound to this cookie hash; `None` when there is none (never
    /// started, used already): a replayed callback finds nothing.
    fn take_flow(&self, binding_hash: &str) -> impl Future<Output = StoreResult<Option<crate::domain::idp::SsoFlow>>> + Send;
    /// The developer an (issuer, subject) belongs to in a portal.
    fn find_subject(&self, portal_id: Uuid, issuer: &str, subject: &str) -> impl Future<Output = StoreResult<Option<Uuid>>> + Send;
    /// A new SSO developer with its (issuer, subject) marker, in the registration's transaction
    /// (`replaces`: the deleted developer a stale marker still names, overwritten).
    fn register_sso(
        &self,
        new: &NewDeveloper,
        issuer: &str,
        subject: &str,
        replaces: Option<Uuid>,
    ) -> impl Future<Output = Result<(), RegisterError>> + Send;
    /// Links an (issuer, subject) to an existing developer (Conflict if a marker names another
    /// live developer; `replaces` as for [`SsoStore::register_sso`]).
    fn link_subject(
        &self,
        portal_id: Uuid,
        issuer: &str,
        subject: &str,
        developer_id: Uuid,
        replaces: Option<Uuid>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// The OpenID Connect relying party (adapter: [`crate::oidc`]).
pub trait OidcClient: Send + Sync {
    /// The authorization request for a provider (discovery cached).
    fn start(
        &self,
        idp: &crate::domain::IdentityProvider,
        redirect_uri: &str,
    ) -> impl Future<Output = Result<crate::domain::idp::AuthRequest, AppError>> + Send;
    /// The code exchange and the ID token's validation: its claims, or why it is refused.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        idp: &crate::domain::IdentityProvider,
        client_secret: String,
        redirect_uri: &str,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> impl Future<Output = Result<Result<serde_json::Map<String, serde_json::Value>, crate::domain::idp::Refusal>, AppError>> + Send;
}

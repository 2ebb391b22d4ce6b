//! Storage ports: admin tokens and the console's sessions and results.

use std::future::Future;

use uuid::Uuid;

use crate::domain::Timestamp;

use super::*;

/// An admin API token as stored (by hash).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdminToken {
    pub id: String,
    pub name: String,
    /// `*` for every portal, or one portal id.
    pub scope: String,
    pub token_hash: String,
    pub created_at: Timestamp,
    /// After this the token answers 401 (`None`: it never expires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

impl AdminToken {
    pub fn can_access(&self, portal_id: Uuid) -> bool {
        self.scope == "*" || self.scope == portal_id.to_string()
    }
    pub fn expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
    pub fn is_global(&self) -> bool {
        self.scope == "*"
    }
}

pub trait AdminTokenStore: Send + Sync {
    fn find_admin_token(&self, token_hash: &str) -> impl Future<Output = StoreResult<Option<AdminToken>>> + Send;
    fn put_admin_token(&self, token: &AdminToken) -> impl Future<Output = StoreResult<()>> + Send;
    /// Every admin token, oldest first (for the ops CLI; never a request path).
    fn list_admin_tokens(&self) -> impl Future<Output = StoreResult<Vec<AdminToken>>> + Send;
    /// Deletes the token with this id; false when there is none.
    fn delete_admin_token(&self, id: &str) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// A console session (issue 16): the admin token exchanged once at sign-in for a short-lived
/// random id, stored only as its SHA-256. The admin token's own hash is kept so every request
/// checks the token as the API does (revoked or expired: the session ends with it).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleSession {
    /// SHA-256 hex of the session id (the cookie's value).
    pub id_hash: String,
    pub admin_token_hash: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// The outcome of a console POST (per address of an invite, per developer of a bulk
/// decision), kept a short while for the GET page the POST redirects to: keyed by its
/// session's hash and a random id, so only that session reads it and a reload re-runs nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleResult {
    /// SHA-256 hex of the session id it belongs to.
    pub session_hash: String,
    pub id: Uuid,
    pub portal_id: Uuid,
    /// What the result page shows (the console's view model).
    pub body: serde_json::Value,
    pub expires_at: Timestamp,
}

pub trait ConsoleSessionStore: Send + Sync {
    fn put_console_session(&self, session: &ConsoleSession) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_console_session(&self, id_hash: &str) -> impl Future<Output = StoreResult<Option<ConsoleSession>>> + Send;
    fn delete_console_session(&self, id_hash: &str) -> impl Future<Output = StoreResult<()>> + Send;
    fn put_console_result(&self, result: &ConsoleResult) -> impl Future<Output = StoreResult<()>> + Send;
    /// The result `id` of the session `session_hash` (another session's is `None`).
    fn get_console_result(&self, session_hash: &str, id: Uuid) -> impl Future<Output = StoreResult<Option<ConsoleResult>>> + Send;
    /// Reads and deletes the result `id` of the session `session_hash` in one call: a result
    /// that must be shown once (a webhook secret) is gone after its first read.
    fn take_console_result(&self, session_hash: &str, id: Uuid) -> impl Future<Output = StoreResult<Option<ConsoleResult>>> + Send;
}

//! Console sessions (issue 16): one item per session, `CONSOLE#<sha256 of the id>` / `CONSOLE`,
//! reaped by TTL at its expiry (reads refuse an expired one before the reaper runs). A console
//! POST's outcome lives in its session's collection, `CONSOLE#<hash>` / `RESULT#<id>`, reaped
//! by TTL likewise.

use serde::{Deserialize, Serialize};

use super::attr::{classify, key};
use super::models::{decode, encode, Model};
use super::{keys, Dynamo};
use crate::domain::Timestamp;
use crate::store::{ConsoleResult, ConsoleSession, ConsoleSessionStore, StoreResult};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ConsoleSessionItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub ttl: i64,
    pub id_hash: String,
    pub admin_token_hash: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Model for ConsoleSessionItem {
    type Domain = ConsoleSession;

    fn from_domain(s: &ConsoleSession) -> Self {
        Self {
            pk: keys::console_session(&s.id_hash),
            sk: keys::CONSOLE_SESSION_SK.into(),
            kind: keys::kind::CONSOLE_SESSION.into(),
            ttl: s.expires_at.timestamp(),
            id_hash: s.id_hash.clone(),
            admin_token_hash: s.admin_token_hash.clone(),
            created_at: s.created_at,
            expires_at: s.expires_at,
        }
    }

    fn into_domain(self) -> ConsoleSession {
        ConsoleSession {
            id_hash: self.id_hash,
            admin_token_hash: self.admin_token_hash,
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ConsoleResultItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub ttl: i64,
    pub session_hash: String,
    pub id: Uuid,
    pub portal_id: Uuid,
    /// The view model as JSON text.
    pub body: String,
    pub expires_at: Timestamp,
}

impl Model for ConsoleResultItem {
    type Domain = ConsoleResult;

    fn from_domain(r: &ConsoleResult) -> Self {
        Self {
            pk: keys::console_session(&r.session_hash),
            sk: keys::console_result(r.id),
            kind: keys::kind::CONSOLE_RESULT.into(),
            ttl: r.expires_at.timestamp(),
            session_hash: r.session_hash.clone(),
            id: r.id,
            portal_id: r.portal_id,
            body: r.body.to_string(),
            expires_at: r.expires_at,
        }
    }

    fn into_domain(self) -> ConsoleResult {
        ConsoleResult {
            session_hash: self.session_hash,
            id: self.id,
            portal_id: self.portal_id,
            body: serde_json::from_str(&self.body).unwrap_or_default(),
            expires_at: self.expires_at,
        }
    }
}

impl ConsoleSessionStore for Dynamo {
    async fn put_console_result(&self, result: &ConsoleResult) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode::<ConsoleResultItem>(result)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn get_console_result(&self, session_hash: &str, id: Uuid) -> StoreResult<Option<ConsoleResult>> {
        self.get_as::<ConsoleResultItem>(key(keys::console_session(session_hash), &keys::console_result(id))).await
    }

    async fn take_console_result(&self, session_hash: &str, id: Uuid) -> StoreResult<Option<ConsoleResult>> {
        // One DeleteItem answering what it deleted: of two reads at once only one gets it.
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::console_session(session_hash), &keys::console_result(id))))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(classify)?;
        out.attributes.filter(|a| !a.is_empty()).map(decode::<ConsoleResultItem>).transpose()
    }

    async fn put_console_session(&self, session: &ConsoleSession) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode::<ConsoleSessionItem>(session)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn get_console_session(&self, id_hash: &str) -> StoreResult<Option<ConsoleSession>> {
        self.get_as::<ConsoleSessionItem>(key(keys::console_session(id_hash), keys::CONSOLE_SESSION_SK)).await
    }

    async fn delete_console_session(&self, id_hash: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::console_session(id_hash), keys::CONSOLE_SESSION_SK)))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

//! Identity providers (single sign-on): one item per provider in its portal's item collection,
//! `pk = PORTAL#<portal>`, `sk = IDP#<idp>`, so a portal's providers are one `Query` (no index)
//! and each write is one conditional single-item request. Also the sign-in flows and the
//! (issuer, subject) markers of SSO accounts ([`SsoStore`]).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::attr::{classify, conflict_is, from_item, key, s, to_item, Expr};
use super::developers::registration_cancelled;
use super::ops::Query;
use super::tx::{Label, TxError};
use super::{keys, read_version, Dynamo};
use crate::domain::idp::SsoFlow;
use crate::domain::{ClaimMappings, IdentityProvider, TeamMapping, Timestamp};
use crate::store::{IdpStore, NewDeveloper, RegisterError, SsoStore, StoreError, StoreResult};

pub(crate) const IDP_PREFIX: &str = "IDP#";
pub(crate) const KIND_IDP: &str = "identity_provider";

fn idp_sk(id: Uuid) -> String {
    format!("{IDP_PREFIX}{id}")
}

/// The stored item (its attribute names are the schema).
#[derive(Serialize, Deserialize)]
struct IdpItem {
    pk: String,
    sk: String,
    kind: String,
    id: Uuid,
    portal_id: Uuid,
    enabled: bool,
    display_name: String,
    issuer_url: String,
    client_id: String,
    /// KMS ciphertext (base64) of the client secret, under the context {portal_id, idp_id}.
    client_secret_sealed: String,
    scopes: Vec<String>,
    claim_mappings: ClaimMappings,
    auto_approve: bool,
    team_mappings: Vec<TeamMapping>,
    version: u64,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl IdpItem {
    fn new(i: &IdentityProvider) -> Self {
        Self {
            pk: keys::portal(i.portal_id),
            sk: idp_sk(i.id),
            kind: KIND_IDP.into(),
            id: i.id,
            portal_id: i.portal_id,
            enabled: i.enabled,
            display_name: i.display_name.clone(),
            issuer_url: i.issuer_url.clone(),
            client_id: i.client_id.clone(),
            client_secret_sealed: i.client_secret_sealed.clone(),
            scopes: i.scopes.clone(),
            claim_mappings: i.claim_mappings.clone(),
            auto_approve: i.auto_approve,
            team_mappings: i.team_mappings.clone(),
            version: i.version,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }

    fn into_domain(self) -> IdentityProvider {
        IdentityProvider {
            id: self.id,
            portal_id: self.portal_id,
            enabled: self.enabled,
            display_name: self.display_name,
            issuer_url: self.issuer_url,
            client_id: self.client_id,
            client_secret_sealed: self.client_secret_sealed,
            scopes: self.scopes,
            claim_mappings: self.claim_mappings,
            auto_approve: self.auto_approve,
            team_mappings: self.team_mappings,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

impl Dynamo {
    async fn put_idp(&self, idp: &IdentityProvider, condition: &str, read: Option<u64>) -> StoreResult<()> {
        let mut req =
            self.client.put_item().table_name(&self.table).set_item(Some(to_item(&IdpItem::new(idp))?)).condition_expression(condition);
        if let Some(v) = read {
            req = req.expression_attribute_values(":v", super::attr::n(v as i64));
        }
        req.send().await.map_err(classify)?;
        Ok(())
    }
}

impl IdpStore for Dynamo {
    async fn create_idp(&self, idp: &IdentityProvider) -> StoreResult<()> {
        self.put_idp(idp, "attribute_not_exists(pk)", None).await
    }

    async fn get_idp(&self, portal_id: Uuid, id: Uuid) -> StoreResult<Option<IdentityProvider>> {
        match self.get(key(keys::portal(portal_id), &idp_sk(id))).await? {
            Some(item) => Ok(Some(from_item::<IdpItem>(item)?.into_domain())),
            None => Ok(None),
        }
    }

    async fn list_idps(&self, portal_id: Uuid) -> StoreResult<Vec<IdentityProvider>> {
        let values = vec![(":pk", s(keys::portal(portal_id))), (":idp", s(IDP_PREFIX))];
        let q = Query::new(None, "pk = :pk AND begins_with(sk, :idp)", values);
        let items = self.query(&q, None, Some(crate::domain::idp::MAX_IDPS_PER_PORTAL + 5)).await?;
        items.into_iter().map(|i| from_item::<IdpItem>(i).map(IdpItem::into_domain)).collect()
    }

    async fn update_idp(&self, idp: &IdentityProvider) -> StoreResult<()> {
        self.put_idp(idp, "version = :v", Some(read_version(idp.version))).await
    }

    async fn delete_idp(&self, idp: &IdentityProvider) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::portal(idp.portal_id), &idp_sk(idp.id))))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", super::attr::n(idp.version as i64))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

/// A started sign-in: `pk = SSOFLOW#<sha256 of the cookie>`, `sk = FLOW`, TTL at its expiry.
#[derive(Serialize, Deserialize)]
struct FlowItem {
    pk: String,
    sk: String,
    kind: String,
    ttl: i64,
    portal_id: Uuid,
    idp_id: Uuid,
    state: String,
    nonce: String,
    verifier: String,
    return_to: String,
    expires_at: Timestamp,
}

const FLOW_SK: &str = "FLOW";
pub(crate) const KIND_FLOW: &str = "sso_flow";

fn flow_pk(binding_hash: &str) -> String {
    format!("SSOFLOW#{binding_hash}")
}

/// The (issuer, subject) marker: `pk = PORTAL#<portal>#SSO#<sha256 hex of issuer|subject>`.
#[derive(Serialize, Deserialize)]
struct SubjectMarker {
    pk: String,
    sk: String,
    kind: String,
    developer_id: Uuid,
    issuer: String,
}

fn subject_pk(portal_id: Uuid, issuer: &str, subject: &str) -> String {
    format!("{}#SSO#{}", keys::portal(portal_id), crate::crypto::sha256_hex(format!("{issuer}|{subject}").as_bytes()))
}

fn marker_condition(replaces: Option<Uuid>) -> Expr {
    match replaces {
        Some(old) => Expr::new("attribute_not_exists(pk) OR developer_id = :old").value(":old", s(old.to_string())),
        None => Expr::new("attribute_not_exists(pk)"),
    }
}

impl SsoStore for Dynamo {
    async fn put_flow(&self, flow: &SsoFlow) -> StoreResult<()> {
        let item = FlowItem {
            pk: flow_pk(&flow.binding_hash),
            sk: FLOW_SK.into(),
            kind: KIND_FLOW.into(),
            ttl: flow.expires_at.timestamp(),
            portal_id: flow.portal_id,
            idp_id: flow.idp_id,
            state: flow.state.clone(),
            nonce: flow.nonce.clone(),
            verifier: flow.verifier.clone(),
            return_to: flow.return_to.clone(),
            expires_at: flow.expires_at,
        };
        self.client.put_item().table_name(&self.table).set_item(Some(to_item(&item)?)).send().await.map_err(classify)?;
        Ok(())
    }

    async fn take_flow(&self, binding_hash: &str) -> StoreResult<Option<SsoFlow>> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(flow_pk(binding_hash), FLOW_SK)))
            .condition_expression("attribute_exists(pk)")
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(classify);
        let item = match conflict_is(out.map(|o| o.attributes), None)? {
            Some(item) => from_item::<FlowItem>(item)?,
            None => return Ok(None),
        };
        Ok(Some(SsoFlow {
            binding_hash: binding_hash.to_string(),
            portal_id: item.portal_id,
            idp_id: item.idp_id,
            state: item.state,
            nonce: item.nonce,
            verifier: item.verifier,
            return_to: item.return_to,
            expires_at: item.expires_at,
        }))
    }

    async fn find_subject(&self, portal_id: Uuid, issuer: &str, subject: &str) -> StoreResult<Option<Uuid>> {
        let item = self.get(key(subject_pk(portal_id, issuer, subject), keys::UNIQUE)).await?;
        Ok(item.map(from_item::<SubjectMarker>).transpose()?.map(|m| m.developer_id))
    }

    async fn register_sso(&self, new: &NewDeveloper, issuer: &str, subject: &str, replaces: Option<Uuid>) -> Result<(), RegisterError> {
        let d = &new.developer;
        let mut tx = self.registration_tx(new)?;
        let marker = SubjectMarker {
            pk: subject_pk(d.portal_id, issuer, subject),
            sk: keys::UNIQUE.into(),
            kind: keys::kind::UNIQUE.into(),
            developer_id: d.id,
            issuer: issuer.to_string(),
        };
        tx.put_if(Label::SsoSubject, to_item(&marker)?, marker_condition(replaces))?;
        match tx.send(self).await {
            Ok(()) => Ok(()),
            Err(TxError::Cancelled(c)) if c.failed(Label::SsoSubject) => Err(RegisterError::Store(StoreError::Conflict)),
            Err(TxError::Cancelled(c)) => Err(registration_cancelled(&c)),
            Err(TxError::Store(e)) => Err(RegisterError::Store(e)),
        }
    }

    async fn link_subject(
        &self,
        portal_id: Uuid,
        issuer: &str,
        subject: &str,
        developer_id: Uuid,
        replaces: Option<Uuid>,
    ) -> StoreResult<()> {
        let marker = SubjectMarker {
            pk: subject_pk(portal_id, issuer, subject),
            sk: keys::UNIQUE.into(),
            kind: keys::kind::UNIQUE.into(),
            developer_id,
            issuer: issuer.to_string(),
        };
        let cond = marker_condition(replaces);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&marker)?))
            .condition_expression(cond.text.clone())
            .set_expression_attribute_values(cond.values())
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

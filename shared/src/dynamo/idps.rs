//! Identity providers (single sign-on): one item per provider in its portal's item collection,
//! `pk = PORTAL#<portal>`, `sk = IDP#<idp>`, so a portal's providers are one `Query` (no index)
//! and each write is one conditional single-item request.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::attr::{classify, from_item, key, s, to_item};
use super::ops::Query;
use super::{keys, read_version, Dynamo};
use crate::domain::{ClaimMappings, IdentityProvider, TeamMapping, Timestamp};
use crate::store::{IdpStore, StoreResult};

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

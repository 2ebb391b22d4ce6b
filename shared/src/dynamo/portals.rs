//! Portals (with their counters) and admin tokens.

use uuid::Uuid;

use super::attr::{classify, key, n, to_item};
use super::models::{decode, encode, AdminTokenItem, CountersItem, PortalItem};
use super::ops::Query;
use super::tx::{Label, Tx};
use super::{keys, read_version, Dynamo};
use crate::domain::Portal;
use crate::store::{AdminToken, AdminTokenStore, PortalStore, StoreResult};

impl AdminTokenStore for Dynamo {
    async fn find_admin_token(&self, token_hash: &str) -> StoreResult<Option<AdminToken>> {
        self.get_as::<AdminTokenItem>(key(keys::admin_token(token_hash), keys::ADMIN_TOKEN_SK)).await
    }

    async fn put_admin_token(&self, token: &AdminToken) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode::<AdminTokenItem>(token)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn list_admin_tokens(&self) -> StoreResult<Vec<AdminToken>> {
        let q = Query::new(Some("gsi2"), "gsi2pk = :p", vec![(":p", super::attr::s(keys::ADMIN_TOKENS))]);
        self.query(&q, None, None).await?.into_iter().map(decode::<AdminTokenItem>).collect()
    }

    async fn delete_admin_token(&self, id: &str) -> StoreResult<bool> {
        let Some(token) = self.list_admin_tokens().await?.into_iter().find(|t| t.id == id) else {
            return Ok(false);
        };
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::admin_token(&token.token_hash), keys::ADMIN_TOKEN_SK)))
            .send()
            .await
            .map_err(classify)?;
        Ok(true)
    }
}

impl PortalStore for Dynamo {
    async fn create_portal(&self, portal: &Portal) -> StoreResult<()> {
        // The counters exist from the start: a portal without them does not exist.
        let mut tx = Tx::new(self);
        tx.create(Label::Portal, encode::<PortalItem>(portal)?)?;
        tx.create(Label::Counters, to_item(&CountersItem::zero(portal.id))?)?;
        tx.commit(self).await
    }

    async fn get_portal(&self, id: Uuid) -> StoreResult<Option<Portal>> {
        self.get_as::<PortalItem>(key(keys::portal(id), keys::PORTAL_SK)).await
    }

    async fn update_portal(&self, portal: &Portal) -> StoreResult<()> {
        // Portals written before versions were kept have none.
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode::<PortalItem>(portal)?))
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(version) OR version = :v)")
            .expression_attribute_values(":v", n(read_version(portal.version) as i64))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

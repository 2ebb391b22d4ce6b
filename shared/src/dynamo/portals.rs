//! Portals (with their counters) and admin tokens.

use uuid::Uuid;

use super::attr::{classify, key, n, s, to_item, Expr};
use super::cursor::{fingerprint, page_of, start_key, KeyShape};
use super::models::{decode, encode, AdminTokenItem, CountersItem, PortalIndexItem, PortalItem};
use super::ops::Query;
use super::tx::{Label, Tx};
use super::{keys, read_version, Dynamo};
use crate::domain::Portal;
use crate::store::{AdminToken, AdminTokenStore, Page, PortalEntry, PortalStore, StoreResult};

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
        tx.put(Label::PortalIndex, encode::<PortalIndexItem>(&PortalEntry::from(portal))?, None)?;
        tx.commit(self).await
    }

    async fn get_portal(&self, id: Uuid) -> StoreResult<Option<Portal>> {
        self.get_as::<PortalItem>(key(keys::portal(id), keys::PORTAL_SK)).await
    }

    async fn update_portal(&self, portal: &Portal) -> StoreResult<()> {
        // Portals written before versions were kept have none. The index entry is written
        // with the portal (its name may have changed; a portal created before the index gets
        // its entry here).
        let mut tx = Tx::new(self);
        tx.put_if(
            Label::Portal,
            encode::<PortalItem>(portal)?,
            Expr::new("attribute_exists(pk) AND (attribute_not_exists(version) OR version = :v)")
                .value(":v", n(read_version(portal.version) as i64)),
        )?;
        tx.put(Label::PortalIndex, encode::<PortalIndexItem>(&PortalEntry::from(portal))?, None)?;
        tx.commit(self).await
    }

    async fn list_portals(&self, limit: usize, cursor: Option<String>) -> StoreResult<Page<PortalEntry>> {
        let limit = limit.clamp(1, 100);
        let f = fingerprint(&[keys::PORTALS]);
        let shape = KeyShape::table(keys::PORTALS);
        let start = start_key(cursor.as_deref(), &f, &shape)?;
        let items = self.query(&Query::new(None, "pk = :p", vec![(":p", s(keys::PORTALS))]), start, Some(limit + 1)).await?;
        page_of::<PortalIndexItem>(items, limit, f, &shape.attrs, None)
    }
}

impl Dynamo {
    /// Writes the index entry of every portal created before the portal index (ops CLI,
    /// `gatehouse-ops backfill-portal-index`: a Scan, never on a request path). An entry
    /// already there is left alone; returns how many were written.
    pub async fn backfill_portal_index(&self) -> StoreResult<u64> {
        let mut written = 0u64;
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("kind = :portal")
                .expression_attribute_values(":portal", s(super::keys::kind::PORTAL))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(classify)?;
            for item in page.items.unwrap_or_default() {
                let portal = decode::<PortalItem>(item)?;
                let result = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(encode::<PortalIndexItem>(&PortalEntry::from(&portal))?))
                    .condition_expression("attribute_not_exists(pk)")
                    .send()
                    .await
                    .map_err(classify)
                    .map(|_| 1);
                written += super::attr::conflict_is(result, 0)?;
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(written);
            }
        }
    }
}

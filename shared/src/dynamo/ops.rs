//! Single requests: consistent reads, queries page by page, counted queries, batch reads and
//! batch deletes (with their retries of unprocessed keys).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, KeysAndAttributes, Select, WriteRequest};
use uuid::Uuid;

use super::attr::{classify, item_str, key, other, Item};
use super::models::{decode, DeveloperItem, Model};
use super::{keys, Dynamo};
use crate::domain::Developer;
use crate::store::{StoreError, StoreResult};

/// A query's `FilterExpression`, its values and its attribute names.
pub(crate) type QueryFilter<'a> = (&'a str, Vec<(&'a str, AttributeValue)>, Vec<(&'a str, &'a str)>);

/// A query: the index (None: the table), the key condition and its values, a filter.
pub(crate) struct Query<'a> {
    pub index: Option<&'a str>,
    pub condition: &'a str,
    pub values: Vec<(&'a str, AttributeValue)>,
    pub filter: Option<QueryFilter<'a>>,
    /// Descending sort-key order (`ScanIndexForward = false`).
    pub newest_first: bool,
}

impl<'a> Query<'a> {
    pub fn new(index: Option<&'a str>, condition: &'a str, values: Vec<(&'a str, AttributeValue)>) -> Self {
        Self { index, condition, values, filter: None, newest_first: false }
    }

    pub fn filter(mut self, filter: Option<QueryFilter<'a>>) -> Self {
        self.filter = filter;
        self
    }

    pub fn newest_first(mut self) -> Self {
        self.newest_first = true;
        self
    }
}

/// How often a batch request is retried for its unprocessed keys, with growing pauses.
const BATCH_ATTEMPTS: u32 = 8;

impl Dynamo {
    pub(crate) async fn get(&self, key: Item) -> StoreResult<Option<Item>> {
        let out = self.client.get_item().table_name(&self.table).set_key(Some(key)).consistent_read(true).send().await.map_err(classify)?;
        Ok(out.item)
    }

    /// A strongly consistent read of one item, through its model.
    pub(crate) async fn get_as<M: Model>(&self, key: Item) -> StoreResult<Option<M::Domain>> {
        self.get(key).await?.map(decode::<M>).transpose()
    }

    fn query_request(&self, q: &Query<'_>) -> QueryFluentBuilder {
        let mut vals: HashMap<String, AttributeValue> = q.values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let mut req =
            self.client.query().table_name(&self.table).set_index_name(q.index.map(str::to_string)).key_condition_expression(q.condition);
        if q.newest_first {
            req = req.scan_index_forward(false);
        }
        if let Some((expr, fvals, fnames)) = &q.filter {
            req = req.filter_expression(*expr);
            for (k, v) in fvals {
                vals.insert(k.to_string(), v.clone());
            }
            if !fnames.is_empty() {
                req = req.set_expression_attribute_names(Some(fnames.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()));
            }
        }
        req.set_expression_attribute_values(Some(vals))
    }

    /// Runs a query page by page; `limit` caps the items returned (None: all).
    pub(crate) async fn query(&self, q: &Query<'_>, start: Option<Item>, limit: Option<usize>) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut start = start;
        loop {
            let mut req = self.query_request(q);
            if let Some(l) = limit {
                req = req.limit((l - out.len()).clamp(1, 1000) as i32);
            }
            let page = req.set_exclusive_start_key(start.take()).send().await.map_err(classify)?;
            out.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() || limit.is_some_and(|l| out.len() >= l) {
                return Ok(out);
            }
        }
    }

    /// Counts what a query matches (`Select=COUNT`: only the number comes back), page by page.
    pub(crate) async fn count_matches(&self, q: &Query<'_>) -> StoreResult<u64> {
        let mut total = 0u64;
        let mut start = None;
        loop {
            let page = self.query_request(q).select(Select::Count).set_exclusive_start_key(start.take()).send().await.map_err(classify)?;
            total += page.count.max(0) as u64;
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(total);
            }
        }
    }

    /// Consistent reads of many items, 100 keys a request.
    pub(crate) async fn batch_get(&self, keys_: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut out_items = Vec::new();
        for chunk in keys_.chunks(100) {
            let mut pending = chunk.to_vec();
            for attempt in 0..BATCH_ATTEMPTS {
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(other)?;
                let out = self.client.batch_get_item().request_items(&self.table, ka).send().await.map_err(classify)?;
                out_items.extend(out.responses.unwrap_or_default().remove(&self.table).unwrap_or_default());
                pending = out.unprocessed_keys.and_then(|mut m| m.remove(&self.table)).map(|ka| ka.keys).unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                backoff(attempt, "batch read").await?;
            }
        }
        Ok(out_items)
    }

    /// Deletes items 25 a request.
    pub(crate) async fn batch_delete(&self, keys_: Vec<Item>) -> StoreResult<()> {
        for chunk in keys_.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| {
                    DeleteRequest::builder().set_key(Some(k.clone())).build().map(|d| WriteRequest::builder().delete_request(d).build())
                })
                .collect::<Result<_, _>>()
                .map_err(other)?;
            for attempt in 0..BATCH_ATTEMPTS {
                let out = self.client.batch_write_item().request_items(&self.table, requests).send().await.map_err(classify)?;
                requests = out.unprocessed_items.and_then(|mut m| m.remove(&self.table)).unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                backoff(attempt, "batch delete").await?;
            }
        }
        Ok(())
    }

    /// An item of a developer's collection together with the developer, in one round trip.
    pub(crate) async fn with_developer<M: Model>(
        &self,
        developer_id: Uuid,
        sk: &str,
    ) -> StoreResult<(Option<M::Domain>, Option<Developer>)> {
        let items = self.batch_get(vec![key(keys::developer(developer_id), keys::PROFILE), key(keys::developer(developer_id), sk)]).await?;
        let (mut owned, mut developer) = (None, None);
        for item in items {
            if item_str(&item, "sk").as_deref() == Some(keys::PROFILE) {
                developer = Some(decode::<DeveloperItem>(item)?);
            } else {
                owned = Some(decode::<M>(item)?);
            }
        }
        Ok((owned, developer))
    }
}

/// The pause before retrying unprocessed keys; after the last attempt, `Unavailable`.
async fn backoff(attempt: u32, what: &str) -> StoreResult<()> {
    if attempt + 1 == BATCH_ATTEMPTS {
        return Err(StoreError::Unavailable(format!("{what} kept being throttled")));
    }
    tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
    Ok(())
}

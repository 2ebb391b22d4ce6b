//! The DynamoDB adapter: one table, keys and GSIs as described in `docs/design.md`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use uuid::Uuid;

use crate::crypto::sha256_hex;
use crate::domain::{
    Application, Approval, ApprovalStatus, Credential, Developer, DeveloperState, Invite, InviteStatus, LifecycleEvent, LinkPurpose,
    LinkToken, Portal, Session, Team, Timestamp, EVENT_RETENTION_DAYS,
};
use crate::store::*;

type Item = HashMap<String, AttributeValue>;

/// Every item carries `kind`, so stream filters and ops tooling can tell items apart.
pub const KIND_EVENT: &str = "event";

#[derive(Clone)]
pub struct Dynamo {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub mod keys {
    use super::*;

    pub fn portal(id: Uuid) -> String {
        format!("PORTAL#{id}")
    }
    pub fn developer(id: Uuid) -> String {
        format!("DEV#{id}")
    }
    pub fn email_marker(portal: Uuid, email_norm: &str) -> String {
        format!("PORTAL#{portal}#EMAIL#{email_norm}")
    }
    pub fn username_marker(portal: Uuid, username_norm: &str) -> String {
        format!("PORTAL#{portal}#USERNAME#{username_norm}")
    }
    pub fn approval(id: Uuid) -> String {
        format!("APPROVAL#{id}")
    }
    pub fn event(id: Uuid) -> String {
        format!("EVENT#{id}")
    }
    pub fn admin_token(hash: &str) -> String {
        format!("ADMINTOKEN#{hash}")
    }
    pub fn by_state(portal: Uuid, state: DeveloperState) -> String {
        format!("PORTAL#{portal}#STATE#{state}")
    }
    pub fn all_developers(portal: Uuid) -> String {
        format!("PORTAL#{portal}#DEV")
    }
    pub fn approvals(event: &str, status: Option<ApprovalStatus>) -> String {
        match status {
            Some(st) => format!("APPROVALS#{event}#{}", st.as_str()),
            None => format!("APPROVALS#{event}"),
        }
    }
    pub fn invite(id: Uuid) -> String {
        format!("INVITE#{id}")
    }
    pub fn invite_marker(portal: Uuid, email_norm: &str) -> String {
        format!("PORTAL#{portal}#INVITE#{email_norm}")
    }
    pub fn invites(portal: Uuid, status: Option<InviteStatus>) -> String {
        match status {
            Some(st) => format!("PORTAL#{portal}#INVITES#{}", st.as_str()),
            None => format!("PORTAL#{portal}#INVITES"),
        }
    }
    pub fn link(purpose: LinkPurpose) -> String {
        format!("LINK#{}", purpose.as_str())
    }
    pub fn team(id: Uuid) -> String {
        format!("TEAM#{id}")
    }
    pub fn app(id: Uuid) -> String {
        format!("APP#{id}")
    }
    pub fn api_key(hash: &str) -> String {
        format!("KEY#{hash}")
    }
    pub fn session(token_hash: &str) -> String {
        format!("SESSION#{token_hash}")
    }
    pub fn throttle(key: &str) -> String {
        format!("THROTTLE#{key}")
    }
    pub const PROFILE: &str = "PROFILE";
    pub const UNIQUE: &str = "UNIQUE";
    pub const COUNTERS: &str = "COUNTERS";
}

/// The three search indexes a `q` prefix is matched against, in the order a search pages
/// through them, each with the condition that leaves out what an earlier one already matched
/// (a developer whose email and name both start with `q` is found once, by email). So the
/// three ranges are disjoint: their counts add up to the exact total.
const SEARCH_INDEXES: [(&str, &str, &str); 3] = [
    ("gsi3", "EMAIL", ""),
    ("gsi4", "USERNAME", "NOT begins_with(gsi3sk, :q)"),
    ("gsi5", "NAME", "NOT begins_with(gsi3sk, :q) AND NOT begins_with(gsi4sk, :q)"),
];

fn to_item<T: Serialize>(v: &T) -> StoreResult<Item> {
    serde_dynamo::to_item(v).map_err(|e| StoreError::Other(Box::new(e)))
}

fn from_item<T: DeserializeOwned>(item: Item) -> StoreResult<T> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Other(Box::new(e)))
}

fn with_keys(mut item: Item, kind: &str, keys: &[(&str, String)]) -> Item {
    item.insert("kind".into(), s(kind));
    for (k, v) in keys {
        item.insert((*k).to_string(), s(v.clone()));
    }
    item
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

/// Maps an SDK failure: throttling, 5xx and transport errors are `Unavailable` (the SDK has
/// already retried them); everything else is `Other`.
fn classify<E>(e: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => StoreError::Unavailable("no answer from DynamoDB".into()),
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or_default();
            let status = se.raw().status().as_u16();
            if matches!(
                code,
                "ThrottlingException"
                    | "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
            ) || status >= 500
            {
                StoreError::Unavailable(if code.is_empty() { format!("HTTP {status}") } else { code.to_string() })
            } else if code == "ConditionalCheckFailedException" {
                StoreError::Conflict
            } else {
                StoreError::Other(Box::new(e))
            }
        }
        SdkError::ResponseError(r) if r.raw().status().as_u16() >= 500 => {
            StoreError::Unavailable(format!("HTTP {}", r.raw().status().as_u16()))
        }
        _ => StoreError::Other(Box::new(e)),
    }
}

/// How a cancelled transaction is retried. In real DynamoDB two transactions touching the
/// same item (the per-portal counters) cancel each other with `TransactionConflict`, and the
/// SDK does not retry that: we do, with jittered exponential backoff, a bounded number of times.
pub fn transaction_retry_delay(reasons: &[Option<&str>], attempt: u32, jitter: f64) -> Option<Duration> {
    const MAX_ATTEMPTS: u32 = 6;
    let conflict_only = reasons.iter().any(|r| *r == Some("TransactionConflict"))
        && reasons.iter().all(|r| matches!(r, None | Some("None") | Some("TransactionConflict")));
    if !conflict_only || attempt + 1 >= MAX_ATTEMPTS {
        return None;
    }
    let base_ms = 20u64 << attempt.min(6);
    Some(Duration::from_millis((base_ms as f64 * (0.5 + jitter.clamp(0.0, 1.0))) as u64))
}

/// A transaction that was cancelled: per-item reason codes (None where the item was fine).
#[derive(Debug)]
struct Cancelled {
    reasons: Vec<CancellationReason>,
}

impl Cancelled {
    fn failed(&self, index: usize) -> bool {
        self.reasons.get(index).and_then(|r| r.code()).is_some_and(|c| c == "ConditionalCheckFailed")
    }
    fn any_failed(&self) -> bool {
        self.reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed"))
    }
}

enum TxError {
    Cancelled(Cancelled),
    Store(StoreError),
}

/// A cursor: the key to continue after, bound to the query it was issued for.
#[derive(Serialize, Deserialize)]
struct Cursor {
    /// Fingerprint of (portal, filter) the cursor belongs to.
    f: String,
    /// Key attributes to continue after.
    k: BTreeMap<String, String>,
}

fn fingerprint(parts: &[&str]) -> String {
    sha256_hex(parts.join("\u{1f}").as_bytes())[..24].to_string()
}

fn encode_cursor(f: String, k: BTreeMap<String, String>) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&Cursor { f, k }).unwrap_or_default())
}

/// Decodes a cursor and checks it belongs to this query and partition.
fn decode_cursor(
    raw: &str,
    expected_f: &str,
    attrs: &[&str],
    partition_attr: &str,
    partition: &str,
) -> StoreResult<BTreeMap<String, String>> {
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| StoreError::BadCursor)?;
    let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
    if c.f != expected_f
        || c.k.get(partition_attr).map(String::as_str) != Some(partition)
        || c.k.len() != attrs.len()
        || attrs.iter().any(|a| !c.k.contains_key(*a))
        || c.k.values().any(|v| v.len() > 1024)
    {
        return Err(StoreError::BadCursor);
    }
    Ok(c.k)
}

/// A page from a query that read `limit + 1` items: the extra item only tells that a next page
/// exists, so the cursor is the key of the last item returned (no dangling last page).
fn page_of<T: DeserializeOwned>(items: Vec<Item>, limit: usize, f: String, key_attrs: &[&str], total: Option<u64>) -> StoreResult<Page<T>> {
    let (items, next_cursor) = page_items(items, limit, f, key_attrs);
    Ok(Page { items: items.into_iter().map(from_item).collect::<StoreResult<_>>()?, total, next_cursor })
}

/// The items of such a page, and its cursor.
fn page_items(mut items: Vec<Item>, limit: usize, f: String, key_attrs: &[&str]) -> (Vec<Item>, Option<String>) {
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        let last = items.last().expect("limit >= 1");
        Some(encode_cursor(f, key_attrs.iter().filter_map(|a| item_str(last, a).map(|v| (a.to_string(), v))).collect()))
    } else {
        None
    };
    (items, next_cursor)
}

/// The `ExclusiveStartKey` a cursor stands for, checked against the query it must belong to.
fn start_key(cursor: &Option<String>, f: &str, attrs: &[&str], partition_attr: &str, partition: &str) -> StoreResult<Option<Item>> {
    cursor
        .as_deref()
        .map(|c| Ok(decode_cursor(c, f, attrs, partition_attr, partition)?.into_iter().map(|(k, v)| (k, s(v))).collect()))
        .transpose()
}

fn item_str(item: &Item, attr: &str) -> Option<String> {
    item.get(attr).and_then(|v| v.as_s().ok()).cloned()
}

impl Dynamo {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn put(&self, item: Item, condition: Option<&str>) -> StoreResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn put_with(&self, item: Item, condition: &str, values: Vec<(&str, AttributeValue)>) -> StoreResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
            .build()
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn delete(&self, key: Item) -> StoreResult<TransactWriteItem> {
        let d = Delete::builder().table_name(&self.table).set_key(Some(key)).build().map_err(|e| StoreError::Other(Box::new(e)))?;
        Ok(TransactWriteItem::builder().delete(d).build())
    }

    fn delete_if(&self, key: Item, condition: &str, values: Vec<(&str, AttributeValue)>) -> StoreResult<TransactWriteItem> {
        let d = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
            .build()
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        Ok(TransactWriteItem::builder().delete(d).build())
    }

    /// `ADD` deltas to the portal's per-state counters.
    fn count(&self, portal: Uuid, deltas: &[(DeveloperState, i64)]) -> StoreResult<TransactWriteItem> {
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut parts = Vec::new();
        for (i, (state, delta)) in deltas.iter().enumerate() {
            names.insert(format!("#c{i}"), state.as_str().to_string());
            values.insert(format!(":d{i}"), n(*delta));
            parts.push(format!("#c{i} :d{i}"));
        }
        let u = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::portal(portal), keys::COUNTERS)))
            .update_expression(format!("ADD {}", parts.join(", ")))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        Ok(TransactWriteItem::builder().update(u).build())
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TxError> {
        let mut attempt = 0;
        loop {
            // Idempotent under the SDK's own retries: a retried request that already
            // committed returns success instead of a false conflict.
            let result = self
                .client
                .transact_write_items()
                .client_request_token(Uuid::new_v4().to_string())
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            if let SdkError::ServiceError(se) = &err {
                if let TransactWriteItemsError::TransactionCanceledException(tc) = se.err() {
                    let reasons = tc.cancellation_reasons().to_vec();
                    let codes: Vec<Option<&str>> = reasons.iter().map(|r| r.code()).collect();
                    if let Some(delay) = transaction_retry_delay(&codes, attempt, rand::random::<f64>()) {
                        attempt += 1;
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(TxError::Cancelled(Cancelled { reasons }));
                }
            }
            return Err(TxError::Store(classify(err)));
        }
    }

    async fn transact_conditional(&self, items: Vec<TransactWriteItem>) -> StoreResult<()> {
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Cancelled(c)) if c.any_failed() => Err(StoreError::Conflict),
            Err(TxError::Cancelled(c)) => {
                Err(StoreError::Unavailable(format!("transaction cancelled: {:?}", c.reasons.iter().map(|r| r.code()).collect::<Vec<_>>())))
            }
            Err(TxError::Store(e)) => Err(e),
        }
    }

    async fn get(&self, key: Item) -> StoreResult<Option<Item>> {
        let out = self.client.get_item().table_name(&self.table).set_key(Some(key)).consistent_read(true).send().await.map_err(classify)?;
        Ok(out.item)
    }

    /// A strongly consistent read of one item, deserialized.
    async fn get_as<T: DeserializeOwned>(&self, key: Item) -> StoreResult<Option<T>> {
        self.get(key).await?.map(from_item).transpose()
    }

    fn developer_item(&self, d: &Developer) -> StoreResult<Item> {
        let p = d.portal_id;
        let mut keys_ = vec![
            ("pk", keys::developer(d.id)),
            ("sk", keys::PROFILE.to_string()),
            ("gsi1pk", keys::by_state(p, d.state)),
            ("gsi1sk", d.id.to_string()),
            ("gsi2pk", keys::all_developers(p)),
            ("gsi2sk", d.id.to_string()),
            ("gsi5pk", format!("PORTAL#{p}#NAME")),
            ("gsi5sk", format!("{}#{}", d.name.to_lowercase(), d.id)),
        ];
        if let Some(e) = &d.email_norm {
            keys_.push(("gsi3pk", format!("PORTAL#{p}#EMAIL")));
            keys_.push(("gsi3sk", format!("{e}#{}", d.id)));
        }
        if let Some(u) = &d.username {
            keys_.push(("gsi4pk", format!("PORTAL#{p}#USERNAME")));
            keys_.push(("gsi4sk", format!("{}#{}", u.to_lowercase(), d.id)));
        }
        Ok(with_keys(to_item(d)?, "developer", &keys_))
    }

    fn approval_item(&self, a: &Approval) -> StoreResult<Item> {
        let sk = format!("{}#{}", a.portal_id, a.id);
        Ok(with_keys(
            to_item(a)?,
            "approval",
            &[
                ("pk", keys::approval(a.id)),
                ("sk", "APPROVAL".to_string()),
                ("gsi1pk", keys::approvals(&a.event, Some(a.status))),
                ("gsi1sk", sk.clone()),
                ("gsi2pk", keys::approvals(&a.event, None)),
                ("gsi2sk", sk),
            ],
        ))
    }

    fn event_item(&self, e: &LifecycleEvent) -> StoreResult<Item> {
        let mut item = with_keys(to_item(e)?, KIND_EVENT, &[("pk", keys::event(e.id)), ("sk", "EVENT".to_string())]);
        item.insert("ttl".into(), n(e.at.timestamp() + EVENT_RETENTION_DAYS * 86_400));
        Ok(item)
    }

    fn marker_item(&self, pk: String, developer: &Developer) -> Item {
        let mut item = HashMap::from([
            ("pk".to_string(), s(pk)),
            ("sk".to_string(), s(keys::UNIQUE)),
            ("kind".to_string(), s("unique")),
            ("developer_id".to_string(), s(developer.id.to_string())),
        ]);
        if let Some(e) = &developer.email {
            item.insert("email".to_string(), s(e.clone()));
        }
        item
    }

    fn invite_item(&self, i: &Invite) -> StoreResult<Item> {
        let mut item = with_keys(
            to_item(i)?,
            "invite",
            &[
                ("pk", keys::invite(i.id)),
                ("sk", "INVITE".to_string()),
                ("gsi1pk", keys::invites(i.portal_id, Some(i.status))),
                ("gsi1sk", i.id.to_string()),
                ("gsi2pk", keys::invites(i.portal_id, None)),
                ("gsi2sk", i.id.to_string()),
            ],
        );
        item.insert("expires_epoch".into(), n(i.expires_at.timestamp()));
        item.insert("ttl".into(), n(i.expires_at.timestamp() + EVENT_RETENTION_DAYS * 86_400));
        Ok(item)
    }

    fn invite_marker_item(&self, i: &Invite) -> Item {
        let mut item = key(keys::invite_marker(i.portal_id, &i.email_norm), keys::UNIQUE);
        item.insert("kind".into(), s("invite_marker"));
        item.insert("invite_id".into(), s(i.id.to_string()));
        item.insert("expires_epoch".into(), n(i.expires_at.timestamp()));
        item.insert("ttl".into(), n(i.expires_at.timestamp() + 86_400));
        item
    }

    fn link_item(&self, l: &LinkToken) -> StoreResult<Item> {
        let mut item = with_keys(to_item(l)?, "link_token", &[("pk", keys::developer(l.developer_id)), ("sk", keys::link(l.purpose))]);
        item.insert("ttl".into(), n(l.expires_at.timestamp()));
        // When the request that issued it was made (orders links of racing requests).
        item.insert("requested_ms".into(), n(l.created_at.timestamp_millis()));
        Ok(item)
    }

    /// What a used link leaves behind until its expiry: no nonce, no hash (nothing matches it),
    /// and the time of its request, so a replay of that request cannot issue it again.
    fn used_link_item(&self, l: &LinkToken) -> StoreResult<Item> {
        let used = LinkToken { nonce: String::new(), token_hash: String::new(), ..l.clone() };
        let mut item = self.link_item(&used)?;
        item.insert("link_used".into(), AttributeValue::Bool(true));
        Ok(item)
    }

    fn session_item(&self, se: &Session) -> StoreResult<Item> {
        let mut item =
            with_keys(to_item(se)?, "session", &[("pk", keys::developer(se.developer_id)), ("sk", keys::session(&se.token_hash))]);
        item.insert("ttl".into(), n(se.expires_at.timestamp()));
        Ok(item)
    }

    /// Deletes items in batches of 25, retrying unprocessed ones.
    async fn batch_delete(&self, keys_: Vec<Item>) -> StoreResult<()> {
        use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
        for chunk in keys_.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| {
                    DeleteRequest::builder()
                        .set_key(Some(k.clone()))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(|e| StoreError::Other(Box::new(e)))
                })
                .collect::<StoreResult<_>>()?;
            for attempt in 0..8u32 {
                let out = self.client.batch_write_item().request_items(&self.table, requests).send().await.map_err(classify)?;
                requests = out.unprocessed_items.and_then(|mut m| m.remove(&self.table)).unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if attempt == 7 {
                    return Err(StoreError::Unavailable("batch delete kept being throttled".into()));
                }
                tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
            }
        }
        Ok(())
    }

    /// One `Query` request: key condition, values and an optional filter
    /// (expression, its values, its attribute names).
    fn query_request(
        &self,
        index: Option<&str>,
        condition: &str,
        values: &[(&str, AttributeValue)],
        filter: &Option<QueryFilter<'_>>,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let mut vals: HashMap<String, AttributeValue> = values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let mut q =
            self.client.query().table_name(&self.table).set_index_name(index.map(str::to_string)).key_condition_expression(condition);
        if let Some((expr, fvals, fnames)) = filter {
            q = q.filter_expression(*expr);
            for (k, v) in fvals {
                vals.insert(k.to_string(), v.clone());
            }
            if !fnames.is_empty() {
                q = q.set_expression_attribute_names(Some(fnames.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()));
            }
        }
        q.set_expression_attribute_values(Some(vals))
    }

    /// Queries one index page by page; `limit` caps the items returned (None: all).
    async fn query(
        &self,
        index: Option<&str>,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
        filter: Option<QueryFilter<'_>>,
        start: Option<Item>,
        limit: Option<usize>,
    ) -> StoreResult<(Vec<Item>, Option<Item>)> {
        let mut out = Vec::new();
        let mut start = start;
        loop {
            let mut q = self.query_request(index, condition, &values, &filter);
            if let Some(l) = limit {
                q = q.limit((l - out.len()).clamp(1, 1000) as i32);
            }
            let page = q.set_exclusive_start_key(start.take()).send().await.map_err(classify)?;
            out.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            let full = limit.is_some_and(|l| out.len() >= l);
            if start.is_none() || full {
                return Ok((out, start));
            }
        }
    }

    /// Counts what a query matches (`Select=COUNT`: only the number comes back), page by page.
    async fn count_matches(
        &self,
        index: Option<&str>,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
        filter: Option<QueryFilter<'_>>,
    ) -> StoreResult<u64> {
        let mut total = 0u64;
        let mut start = None;
        loop {
            let page = self
                .query_request(index, condition, &values, &filter)
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(classify)?;
            total += page.count.max(0) as u64;
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(total);
            }
        }
    }
}

/// A query's `FilterExpression`, its values and its attribute names.
type QueryFilter<'a> = (&'a str, Vec<(&'a str, AttributeValue)>, Vec<(&'a str, &'a str)>);

/// Reads a cancelled registration by item position: the username marker wins over the email
/// marker (a taken username is 409 whatever the email), then the invite, then the developer.
fn registration_cancelled(c: &Cancelled, email_at: Option<usize>, username_at: Option<usize>, invite_at: Option<usize>) -> RegisterError {
    if username_at.is_some_and(|i| c.failed(i)) {
        return RegisterError::UsernameTaken;
    }
    if let Some(i) = email_at.filter(|i| c.failed(*i)) {
        let owner =
            c.reasons.get(i).and_then(|r| r.item()).and_then(|i| Some((item_str(i, "developer_id")?.parse().ok()?, item_str(i, "email")?)));
        return RegisterError::EmailTaken(owner);
    }
    if invite_at.is_some_and(|i| c.failed(i)) {
        return RegisterError::InviteUsed;
    }
    if c.failed(0) {
        return RegisterError::Store(StoreError::Conflict);
    }
    RegisterError::Store(StoreError::Unavailable(format!(
        "transaction cancelled: {:?}",
        c.reasons.iter().map(|r| r.code()).collect::<Vec<_>>()
    )))
}

/// The index partition that lists admin tokens (ops CLI).
const ADMIN_TOKENS: &str = "ADMINTOKENS";

impl AdminTokenStore for Dynamo {
    async fn find_admin_token(&self, token_hash: &str) -> StoreResult<Option<AdminToken>> {
        self.get_as(key(keys::admin_token(token_hash), "ADMINTOKEN")).await
    }

    async fn put_admin_token(&self, token: &AdminToken) -> StoreResult<()> {
        let mut item = with_keys(
            to_item(token)?,
            "admin_token",
            &[
                ("pk", keys::admin_token(&token.token_hash)),
                ("sk", "ADMINTOKEN".to_string()),
                ("gsi2pk", ADMIN_TOKENS.to_string()),
                ("gsi2sk", format!("{}#{}", token.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), token.id)),
            ],
        );
        if let Some(t) = token.expires_at {
            // Reaped a month after it stopped working (it is listed as expired until then).
            item.insert("ttl".into(), n(t.timestamp() + 30 * 86_400));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn list_admin_tokens(&self) -> StoreResult<Vec<AdminToken>> {
        let (items, _) = self.query(Some("gsi2"), "gsi2pk = :p", vec![(":p", s(ADMIN_TOKENS))], None, None, None).await?;
        items.into_iter().map(from_item).collect()
    }

    async fn delete_admin_token(&self, id: &str) -> StoreResult<bool> {
        let Some(token) = self.list_admin_tokens().await?.into_iter().find(|t| t.id == id) else {
            return Ok(false);
        };
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::admin_token(&token.token_hash), "ADMINTOKEN")))
            .send()
            .await
            .map_err(classify)?;
        Ok(true)
    }
}

impl PortalStore for Dynamo {
    async fn create_portal(&self, portal: &Portal) -> StoreResult<()> {
        let item = with_keys(to_item(portal)?, "portal", &[("pk", keys::portal(portal.id)), ("sk", "PORTAL".to_string())]);
        // The counters exist from the start: a portal without them does not exist.
        let mut counters = key(keys::portal(portal.id), keys::COUNTERS);
        counters.insert("kind".into(), s("counters"));
        for st in DeveloperState::ALL {
            counters.insert(st.as_str().into(), n(0));
        }
        self.transact_conditional(vec![
            self.put(item, Some("attribute_not_exists(pk)"))?,
            self.put(counters, Some("attribute_not_exists(pk)"))?,
        ])
        .await
    }

    async fn get_portal(&self, id: Uuid) -> StoreResult<Option<Portal>> {
        self.get_as(key(keys::portal(id), "PORTAL")).await
    }

    async fn update_portal(&self, portal: &Portal) -> StoreResult<()> {
        let item = with_keys(to_item(portal)?, "portal", &[("pk", keys::portal(portal.id)), ("sk", "PORTAL".to_string())]);
        let previous = portal.version.saturating_sub(1);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(version) OR version = :v)")
            .expression_attribute_values(":v", n(previous as i64))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

impl DeveloperStore for Dynamo {
    async fn register(&self, new: &NewDeveloper) -> Result<(), RegisterError> {
        let d = &new.developer;
        let absent = Some("attribute_not_exists(pk)");
        let mut items = vec![self.put(self.developer_item(d)?, absent)?];
        let mut email_at = None;
        if let Some(e) = &d.email_norm {
            email_at = Some(items.len());
            items.push(self.put(self.marker_item(keys::email_marker(d.portal_id, e), d), absent)?);
        }
        let mut username_at = None;
        if let Some(u) = &d.username {
            username_at = Some(items.len());
            items.push(self.put(self.marker_item(keys::username_marker(d.portal_id, &u.to_lowercase()), d), absent)?);
        }
        if let Some(a) = &new.approval {
            items.push(self.put(self.approval_item(a)?, None)?);
        }
        let mut invite_at = None;
        if let Some(inv) = &new.accepted_invite {
            invite_at = Some(items.len());
            items.push(self.put_with(
                self.invite_item(inv)?,
                "#status = :pending AND token_hash = :h AND version = :v",
                vec![(":pending", s("pending")), (":h", s(inv.token_hash.clone())), (":v", n(inv.version as i64 - 1))],
            )?);
            if let Some(TransactWriteItem { put: Some(p), .. }) = items.last_mut() {
                p.expression_attribute_names = Some(HashMap::from([("#status".to_string(), "status".to_string())]));
            }
            items.push(self.delete(key(keys::invite_marker(inv.portal_id, &inv.email_norm), keys::UNIQUE))?);
        }
        if let Some(link) = &new.verification {
            items.push(self.put(self.link_item(link)?, None)?);
        }
        items.push(self.put(self.event_item(&new.event)?, None)?);
        items.push(self.count(d.portal_id, &[(d.state, 1)])?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Cancelled(c)) => {
                match registration_cancelled(&c, email_at, username_at, invite_at) {
                    // Without the old item in the reasons, read the marker.
                    RegisterError::EmailTaken(None) => {
                        let e = d.email_norm.as_deref().unwrap_or_default();
                        let marker = self.get(key(keys::email_marker(d.portal_id, e), keys::UNIQUE)).await?;
                        let owner = marker.and_then(|i| Some((item_str(&i, "developer_id")?.parse().ok()?, item_str(&i, "email")?)));
                        Err(RegisterError::EmailTaken(owner))
                    }
                    other => Err(other),
                }
            }
            Err(TxError::Store(e)) => Err(RegisterError::Store(e)),
        }
    }

    async fn get_developer(&self, id: Uuid) -> StoreResult<Option<Developer>> {
        self.get_as(key(keys::developer(id), keys::PROFILE)).await
    }

    async fn change_developer(&self, change: &DeveloperChange) -> StoreResult<()> {
        let (before, after) = (&change.before, &change.after);
        let mut items = vec![self.put_with(
            self.developer_item(after)?,
            "attribute_exists(pk) AND version = :v AND #state = :s",
            vec![(":v", n(before.version as i64)), (":s", s(before.state.as_str()))],
        )?];
        // `state` is a reserved word: the condition needs a name placeholder.
        if let Some(TransactWriteItem { put: Some(p), .. }) = items.first_mut() {
            p.expression_attribute_names = Some(HashMap::from([("#state".to_string(), "state".to_string())]));
        }
        if before.state != after.state {
            items.push(self.count(after.portal_id, &[(before.state, -1), (after.state, 1)])?);
        }
        if let Some(dec) = &change.close_approval {
            let u = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::approval(dec.approval_id), "APPROVAL")))
                .update_expression("SET #status = :st, decided_at = :at, decided_by = :by, gsi1pk = :g")
                .condition_expression("#status = :pending")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":st", s(dec.status.as_str()))
                .expression_attribute_values(":at", s(dec.decided_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
                .expression_attribute_values(":by", s(dec.decided_by.clone()))
                .expression_attribute_values(":g", s(keys::approvals(crate::domain::APPROVAL_EVENT_REGISTRATION, Some(dec.status))))
                .expression_attribute_values(":pending", s("pending"))
                .build()
                .map_err(|e| StoreError::Other(Box::new(e)))?;
            items.push(TransactWriteItem::builder().update(u).build());
        }
        if let Some(a) = &change.open_approval {
            items.push(self.put(self.approval_item(a)?, Some("attribute_not_exists(pk)"))?);
        }
        if let Some(e) = &change.event {
            items.push(self.put(self.event_item(e)?, None)?);
        }
        if let Some(link) = &change.consume_link {
            items.push(self.put_with(self.used_link_item(link)?, "token_hash = :h", vec![(":h", s(link.token_hash.clone()))])?);
        }
        if let Some(session) = &change.keep_session {
            items.push(self.put(self.session_item(session)?, Some("attribute_exists(pk)"))?);
        }
        self.transact_conditional(items).await
    }

    async fn delete_developer(&self, d: &Developer, event: &LifecycleEvent) -> StoreResult<()> {
        let mut items =
            vec![self.delete_if(key(keys::developer(d.id), keys::PROFILE), "version = :v", vec![(":v", n(d.version as i64))])?];
        if let Some(e) = &d.email_norm {
            items.push(self.delete(key(keys::email_marker(d.portal_id, e), keys::UNIQUE))?);
        }
        if let Some(inv) = d.invite_id {
            items.push(self.delete(key(keys::invite(inv), "INVITE"))?);
        }
        if let Some(u) = &d.username {
            items.push(self.delete(key(keys::username_marker(d.portal_id, &u.to_lowercase()), keys::UNIQUE))?);
        }
        // Everything else the developer owns lives in its item collection (pk DEV#id):
        // applications, credentials, team memberships, sessions, link tokens.
        let (owned, _) = self.query(None, "pk = :pk", vec![(":pk", s(keys::developer(d.id)))], None, None, None).await?;
        let mut owned_keys: Vec<Item> = owned
            .iter()
            .filter(|i| item_str(i, "sk").as_deref() != Some(keys::PROFILE))
            .filter_map(|i| Some(key(item_str(i, "pk")?, &item_str(i, "sk")?)))
            .collect();
        owned_keys.extend(d.approval_ids.iter().map(|a| key(keys::approval(*a), "APPROVAL")));
        // One transaction holds at most 100 items. Beyond what fits, owned items go first in
        // batches: credentials and sessions stop working before the developer disappears, and
        // a retried delete finds whatever is left.
        let room = 100 - items.len() - 2;
        if owned_keys.len() > room {
            let overflow = owned_keys.split_off(room);
            self.batch_delete(overflow).await?;
        }
        for k in owned_keys {
            items.push(self.delete(k)?);
        }
        items.push(self.count(d.portal_id, &[(d.state, -1)])?);
        items.push(self.put(self.event_item(event)?, None)?);
        self.transact_conditional(items).await
    }

    async fn list_developers(&self, q: &DeveloperQuery) -> StoreResult<Page<Developer>> {
        let limit = q.limit.clamp(1, 100);
        match &q.prefix {
            None => {
                let (index, pk_attr, sk_attr, partition) = match q.state {
                    Some(st) => ("gsi1", "gsi1pk", "gsi1sk", keys::by_state(q.portal_id, st)),
                    None => ("gsi2", "gsi2pk", "gsi2sk", keys::all_developers(q.portal_id)),
                };
                let f = fingerprint(&[&q.portal_id.to_string(), q.state.map(|s| s.as_str()).unwrap_or("*")]);
                let start = start_key(&q.cursor, &f, &["pk", "sk", pk_attr, sk_attr], pk_attr, &partition)?;
                let condition = format!("{pk_attr} = :p");
                let (page, counts) = tokio::join!(
                    self.query(Some(index), &condition, vec![(":p", s(partition.clone()))], None, start, Some(limit + 1)),
                    self.count_developers(q.portal_id)
                );
                let (items, _) = page?;
                let counts = counts?.ok_or(StoreError::NotFound)?;
                let total = match q.state {
                    Some(st) => counts.get(st),
                    None => counts.total(),
                };
                page_of(items, limit, f, &["pk", "sk", pk_attr, sk_attr], Some(total))
            }
            Some(prefix) => {
                // Three disjoint prefix ranges (email, then username, then name matches), paged
                // through in that order: a page reads only what it returns (+1), the exact total
                // is three concurrent counted queries.
                let f = fingerprint(&[&q.portal_id.to_string(), q.state.map(|s| s.as_str()).unwrap_or("*"), prefix]);
                let segment = |i: usize| {
                    let (index, field, exclude) = SEARCH_INDEXES[i];
                    let (pk_attr, sk_attr) = (format!("{index}pk"), format!("{index}sk"));
                    let condition = format!("{pk_attr} = :p AND begins_with({sk_attr}, :q)");
                    let partition = format!("PORTAL#{}#{field}", q.portal_id);
                    let mut filters: Vec<&str> = Vec::new();
                    if q.state.is_some() {
                        filters.push("#state = :st");
                    }
                    if !exclude.is_empty() {
                        filters.push(exclude);
                    }
                    let filter = (!filters.is_empty()).then(|| {
                        let (vals, names) = match q.state {
                            Some(st) => (vec![(":st", s(st.as_str()))], vec![("#state", "state")]),
                            None => (vec![], vec![]),
                        };
                        (filters.join(" AND "), vals, names)
                    });
                    (index, pk_attr, sk_attr, condition, partition, filter)
                };
                let values = |partition: &str| vec![(":p", s(partition)), (":q", s(prefix.clone()))];
                // Which segment, and where in it, the cursor continues.
                let (first, start) = match &q.cursor {
                    None => (0, None),
                    Some(c) => (0..SEARCH_INDEXES.len())
                        .find_map(|i| {
                            let (_, pk_attr, sk_attr, _, partition, _) = segment(i);
                            let k = decode_cursor(c, &f, &["pk", "sk", &pk_attr, &sk_attr], &pk_attr, &partition).ok()?;
                            Some((i, Some(k.into_iter().map(|(k, v)| (k, s(v))).collect::<Item>())))
                        })
                        .ok_or(StoreError::BadCursor)?,
                };
                let counts = async {
                    let counted = (0..SEARCH_INDEXES.len()).map(|i| {
                        let (index, _, _, condition, partition, filter) = segment(i);
                        async move {
                            let filter = filter.as_ref().map(|(e, v, n)| (e.as_str(), v.clone(), n.clone()));
                            self.count_matches(Some(index), &condition, values(&partition), filter).await
                        }
                    });
                    let (totals, portal) = tokio::join!(futures::future::try_join_all(counted), self.count_developers(q.portal_id));
                    portal?.ok_or(StoreError::NotFound)?;
                    Ok::<u64, StoreError>(totals?.into_iter().sum())
                };
                let page = async {
                    let mut items: Vec<(usize, Item)> = Vec::new();
                    let mut start = start;
                    for i in first..SEARCH_INDEXES.len() {
                        let (index, _, _, condition, partition, filter) = segment(i);
                        let filter = filter.as_ref().map(|(e, v, n)| (e.as_str(), v.clone(), n.clone()));
                        let (found, _) = self
                            .query(Some(index), &condition, values(&partition), filter, start.take(), Some(limit + 1 - items.len()))
                            .await?;
                        items.extend(found.into_iter().map(|item| (i, item)));
                        if items.len() > limit {
                            break;
                        }
                    }
                    Ok::<_, StoreError>(items)
                };
                let (total, items) = tokio::join!(counts, page);
                let (total, items) = (total?, items?);
                // The cursor names the segment of the page's last item by its key attributes.
                let last_segment = items.get(limit.saturating_sub(1)).map(|(i, _)| *i).unwrap_or(first);
                let (_, pk_attr, sk_attr, _, _, _) = segment(last_segment);
                let items: Vec<Item> = items.into_iter().map(|(_, item)| item).collect();
                page_of(items, limit, f, &["pk", "sk", &pk_attr, &sk_attr], Some(total))
            }
        }
    }

    async fn count_developers(&self, portal_id: Uuid) -> StoreResult<Option<StateCounts>> {
        let Some(item) = self.get(key(keys::portal(portal_id), keys::COUNTERS)).await? else {
            return Ok(None);
        };
        let get = |st: DeveloperState| -> u64 {
            item.get(st.as_str()).and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0).max(0) as u64
        };
        Ok(Some(StateCounts {
            pending: get(DeveloperState::Pending),
            approved: get(DeveloperState::Approved),
            rejected: get(DeveloperState::Rejected),
            revoked: get(DeveloperState::Revoked),
        }))
    }
}

impl ApprovalStore for Dynamo {
    async fn get_approval(&self, id: Uuid) -> StoreResult<Option<Approval>> {
        self.get_as(key(keys::approval(id), "APPROVAL")).await
    }

    async fn list_approvals(&self, q: &ApprovalQuery) -> StoreResult<Page<Approval>> {
        let limit = q.limit.clamp(1, 100);
        let (index, pk_attr, sk_attr) = if q.status.is_some() { ("gsi1", "gsi1pk", "gsi1sk") } else { ("gsi2", "gsi2pk", "gsi2sk") };
        let partition = keys::approvals(&q.event, q.status);
        let portal = q.portal_id.map(|p| p.to_string());
        let f = fingerprint(&[&partition, portal.as_deref().unwrap_or("*")]);
        let start = start_key(&q.cursor, &f, &["pk", "sk", pk_attr, sk_attr], pk_attr, &partition)?;
        let mut values = vec![(":p", s(partition.clone()))];
        let condition = match &portal {
            Some(p) => {
                values.push((":prefix", s(format!("{p}#"))));
                format!("{pk_attr} = :p AND begins_with({sk_attr}, :prefix)")
            }
            None => format!("{pk_attr} = :p"),
        };
        let (items, _) = self.query(Some(index), &condition, values, None, start, Some(limit + 1)).await?;
        page_of(items, limit, f, &["pk", "sk", pk_attr, sk_attr], None)
    }
}

impl EventLog for Dynamo {
    async fn record_event(&self, event: &LifecycleEvent, dedupe: bool) -> StoreResult<bool> {
        let mut req = self.client.put_item().table_name(&self.table).set_item(Some(self.event_item(event)?));
        if dedupe {
            req = req.condition_expression("attribute_not_exists(pk)");
        }
        match req.send().await.map_err(classify) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) if dedupe => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl MailLedger for Dynamo {
    async fn claim_mail(&self, event_id: Uuid, mail: &str, now: Timestamp, lease_seconds: i64) -> StoreResult<MailClaim> {
        let mut item = key(keys::event(event_id), &format!("MAIL#{mail}"));
        item.insert("kind".into(), s("mail_marker"));
        item.insert("status".into(), s("sending"));
        item.insert("lease_until".into(), n(now.timestamp() + lease_seconds));
        item.insert("ttl".into(), n(now.timestamp() + EVENT_RETENTION_DAYS * 86_400));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR (#status = :sending AND lease_until < :now)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":now", n(now.timestamp()))
            .send()
            .await
            .map_err(classify);
        match result {
            Ok(_) => Ok(MailClaim::Acquired),
            Err(StoreError::Conflict) => {
                let existing = self.get(key(keys::event(event_id), &format!("MAIL#{mail}"))).await?;
                match existing.and_then(|i| item_str(&i, "status")).as_deref() {
                    Some("sent") => Ok(MailClaim::AlreadySent),
                    Some("failed") => Ok(MailClaim::Failed),
                    _ => Ok(MailClaim::InFlight),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn complete_mail(&self, event_id: Uuid, mail: &str, message_id: &str, now: Timestamp) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::event(event_id), &format!("MAIL#{mail}"))))
            .update_expression("SET #status = :sent, message_id = :m, sent_at = :at REMOVE lease_until")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sent", s("sent"))
            .expression_attribute_values(":m", s(message_id))
            .expression_attribute_values(":at", s(now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn release_mail(&self, event_id: Uuid, mail: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::event(event_id), &format!("MAIL#{mail}"))))
            .condition_expression("#status = :sending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sending", s("sending"))
            .send()
            .await
            .map_err(classify)
            .map(|_| ())
            .or_else(|e| if matches!(e, StoreError::Conflict) { Ok(()) } else { Err(e) })
    }

    async fn fail_mail(&self, event_id: Uuid, mail: &str, reason: &str, now: Timestamp) -> StoreResult<()> {
        let at = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let marker = || {
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(keys::event(event_id), &format!("MAIL#{mail}"))))
                .update_expression("SET #status = :failed, #error = :e, failed_at = :at REMOVE lease_until")
                .condition_expression("#status = :sending")
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#error", "error")
                .expression_attribute_values(":failed", s("failed"))
                .expression_attribute_values(":sending", s("sending"))
                .expression_attribute_values(":e", s(reason))
                .expression_attribute_values(":at", s(at.clone()))
                .build()
                .map_err(|e| StoreError::Other(Box::new(e)))
        };
        let failure =
            AttributeValue::M(HashMap::from([("mail".into(), s(mail)), ("error".into(), s(reason)), ("at".into(), s(at.clone()))]));
        let on_event = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::event(event_id), "EVENT")))
            .update_expression("SET mail_failures = list_append(if_not_exists(mail_failures, :none), :f)")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":none", AttributeValue::L(vec![]))
            .expression_attribute_values(":f", AttributeValue::L(vec![failure]))
            .build()
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        let items = vec![TransactWriteItem::builder().update(marker()?).build(), TransactWriteItem::builder().update(on_event).build()];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            // The claim is no longer ours (recorded meanwhile): nothing to add.
            Err(TxError::Cancelled(c)) if c.failed(0) => Ok(()),
            // An event that is not in the table (a record replayed from elsewhere): the marker alone.
            Err(TxError::Cancelled(c)) if c.failed(1) => {
                match self.transact_conditional(vec![TransactWriteItem::builder().update(marker()?).build()]).await {
                    Ok(()) | Err(StoreError::Conflict) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Err(TxError::Cancelled(c)) => Err(StoreError::Unavailable(format!("transaction cancelled: {:?}", c.reasons))),
            Err(TxError::Store(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_conflict_is_retried_with_growing_jittered_delays() {
        let reasons = [None, Some("TransactionConflict"), Some("None")];
        let d0 = transaction_retry_delay(&reasons, 0, 0.5).unwrap();
        let d3 = transaction_retry_delay(&reasons, 3, 0.5).unwrap();
        assert!(d3 > d0);
        assert_ne!(transaction_retry_delay(&reasons, 1, 0.0), transaction_retry_delay(&reasons, 1, 1.0), "jitter spreads retries");
    }

    #[test]
    fn a_transaction_conflict_is_given_up_after_a_bounded_number_of_attempts() {
        let reasons = [Some("TransactionConflict")];
        assert!(transaction_retry_delay(&reasons, 4, 0.5).is_some());
        assert!(transaction_retry_delay(&reasons, 5, 0.5).is_none());
    }

    #[test]
    fn a_failed_condition_is_never_retried() {
        assert!(transaction_retry_delay(&[Some("ConditionalCheckFailed"), Some("TransactionConflict")], 0, 0.5).is_none());
        assert!(transaction_retry_delay(&[Some("ConditionalCheckFailed")], 0, 0.5).is_none());
        assert!(transaction_retry_delay(&[None, None], 0, 0.5).is_none());
    }

    #[test]
    fn a_cursor_is_refused_for_another_query_or_partition_or_key_shape() {
        let attrs = ["gsi1pk", "gsi1sk"];
        let part = "PORTAL#a#STATE#pending";
        let f = fingerprint(&["portal-a", "pending"]);
        let k = BTreeMap::from([("gsi1pk".to_string(), part.to_string()), ("gsi1sk".to_string(), "x".to_string())]);
        let c = encode_cursor(f.clone(), k.clone());
        assert!(decode_cursor(&c, &f, &attrs, "gsi1pk", part).is_ok());
        assert!(decode_cursor(&c, &fingerprint(&["portal-b", "pending"]), &attrs, "gsi1pk", part).is_err());
        assert!(decode_cursor(&c, &f, &attrs, "gsi1pk", "PORTAL#b#STATE#pending").is_err());
        assert!(decode_cursor("not-a-cursor!", &f, &attrs, "gsi1pk", part).is_err());
        let mut missing = k.clone();
        missing.remove("gsi1sk");
        assert!(decode_cursor(&encode_cursor(f.clone(), missing), &f, &attrs, "gsi1pk", part).is_err());
        let mut extra = k;
        extra.insert("pk".into(), "DEV#x".into());
        assert!(decode_cursor(&encode_cursor(f.clone(), extra), &f, &attrs, "gsi1pk", part).is_err());
    }
}

impl InviteStore for Dynamo {
    async fn create_invite(&self, invite: &Invite, event: &LifecycleEvent, now: Timestamp) -> Result<(), InviteError> {
        let items = vec![
            self.put(self.invite_item(invite)?, Some("attribute_not_exists(pk)"))?,
            self.put_with(
                self.invite_marker_item(invite),
                "attribute_not_exists(pk) OR expires_epoch <= :now",
                vec![(":now", n(now.timestamp()))],
            )?,
            self.put(self.event_item(event)?, None)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TxError::Cancelled(c)) if c.failed(1) => Err(InviteError::AlreadyInvited),
            Err(TxError::Cancelled(c)) if c.any_failed() => Err(InviteError::Store(StoreError::Conflict)),
            Err(TxError::Cancelled(c)) => Err(InviteError::Store(StoreError::Unavailable(format!("{:?}", c.reasons)))),
            Err(TxError::Store(e)) => Err(InviteError::Store(e)),
        }
    }

    async fn get_invite(&self, id: Uuid) -> StoreResult<Option<Invite>> {
        self.get_as(key(keys::invite(id), "INVITE")).await
    }

    async fn update_invite(&self, invite: &Invite, event: &LifecycleEvent) -> StoreResult<()> {
        let mut items = vec![self.put_with(self.invite_item(invite)?, "version = :v", vec![(":v", n(invite.version as i64 - 1))])?];
        if invite.status == InviteStatus::Pending {
            items.push(self.put(self.invite_marker_item(invite), None)?);
        } else {
            items.push(self.delete_if(
                key(keys::invite_marker(invite.portal_id, &invite.email_norm), keys::UNIQUE),
                "attribute_not_exists(pk) OR invite_id = :id",
                vec![(":id", s(invite.id.to_string()))],
            )?);
        }
        items.push(self.put(self.event_item(event)?, None)?);
        self.transact_conditional(items).await
    }

    async fn list_invites(&self, q: &InviteQuery, now: Timestamp) -> StoreResult<Page<Invite>> {
        let limit = q.limit.clamp(1, 100);
        // Expired is pending past its expiry: both read the pending partition with a filter.
        let (stored, filter) = match q.status {
            Some(InviteStatus::Expired) => (Some(InviteStatus::Pending), Some("expires_epoch <= :now")),
            Some(InviteStatus::Pending) => (Some(InviteStatus::Pending), Some("expires_epoch > :now")),
            other => (other, None),
        };
        let (index, pk_attr, sk_attr) = if stored.is_some() { ("gsi1", "gsi1pk", "gsi1sk") } else { ("gsi2", "gsi2pk", "gsi2sk") };
        let partition = keys::invites(q.portal_id, stored);
        let f = fingerprint(&[&partition, q.status.map(|s| s.as_str()).unwrap_or("*")]);
        let start = start_key(&q.cursor, &f, &["pk", "sk", pk_attr, sk_attr], pk_attr, &partition)?;
        let filter = filter.map(|expr| (expr, vec![(":now", n(now.timestamp()))], vec![]));
        let condition = format!("{pk_attr} = :p");
        let (items, _) = self.query(Some(index), &condition, vec![(":p", s(partition.clone()))], filter, start, Some(limit + 1)).await?;
        page_of(items, limit, f, &["pk", "sk", pk_attr, sk_attr], None)
    }

    async fn registered_emails(&self, portal_id: Uuid, emails: &[String]) -> StoreResult<Vec<String>> {
        let markers = self.batch_get(emails.iter().map(|e| key(keys::email_marker(portal_id, e), keys::UNIQUE)).collect()).await?;
        Ok(markers.iter().filter_map(|m| item_str(m, "pk")?.rsplit_once("#EMAIL#").map(|(_, e)| e.to_string())).collect())
    }
}

impl SessionStore for Dynamo {
    async fn put_session(&self, session: &Session) -> StoreResult<()> {
        self.client.put_item().table_name(&self.table).set_item(Some(self.session_item(session)?)).send().await.map_err(classify)?;
        Ok(())
    }

    async fn session_and_developer(&self, developer_id: Uuid, token_hash: &str) -> StoreResult<(Option<Session>, Option<Developer>)> {
        self.with_developer(developer_id, &keys::session(token_hash)).await
    }

    async fn delete_session(&self, developer_id: Uuid, token_hash: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::developer(developer_id), &keys::session(token_hash))))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn touch_developer(&self, developer_id: Uuid, now: Timestamp) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::developer(developer_id), keys::PROFILE)))
            .update_expression("SET last_active_at = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", s(now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
            .send()
            .await
            .map_err(classify);
        match result {
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn find_login(&self, portal_id: Uuid, login_norm: &str, by_email: bool) -> StoreResult<Option<Uuid>> {
        let pk = if by_email { keys::email_marker(portal_id, login_norm) } else { keys::username_marker(portal_id, login_norm) };
        Ok(self.get(key(pk, keys::UNIQUE)).await?.and_then(|i| item_str(&i, "developer_id")).and_then(|v| v.parse().ok()))
    }
}

impl ThrottleStore for Dynamo {
    async fn reserve(&self, c: &crate::throttle::Counter) -> StoreResult<Option<u64>> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::throttle(&c.key), "THROTTLE")))
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(c.limit as i64))
            .expression_attribute_values(":ttl", n(c.window_ends.timestamp()))
            .expression_attribute_values(":kind", s("throttle"))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew);
        let (update, condition) = match &c.sub {
            Some((name, limit)) => {
                req = req.expression_attribute_names("#sub", name).expression_attribute_values(":sublimit", n(*limit as i64));
                (
                    "ADD #count :one, #sub :one SET #ttl = :ttl, kind = :kind",
                    "(attribute_not_exists(#count) OR #count < :limit) AND (attribute_not_exists(#sub) OR #sub < :sublimit)",
                )
            }
            None => ("ADD #count :one SET #ttl = :ttl, kind = :kind", "attribute_not_exists(#count) OR #count < :limit"),
        };
        match req.update_expression(update).condition_expression(condition).send().await.map_err(classify) {
            Ok(out) => Ok(Some(out.attributes.and_then(|a| a.get("count")?.as_n().ok()?.parse().ok()).unwrap_or(1))),
            Err(StoreError::Conflict) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn release(&self, c: &crate::throttle::Counter, forget_sub: bool) -> StoreResult<()> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::throttle(&c.key), "THROTTLE")))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":minus", n(-1));
        let update = match &c.sub {
            Some((name, _)) => {
                req = req.expression_attribute_names("#sub", name);
                if forget_sub {
                    "ADD #count :minus REMOVE #sub"
                } else {
                    "ADD #count :minus, #sub :minus"
                }
            }
            None => "ADD #count :minus",
        };
        match req.update_expression(update).send().await.map_err(classify) {
            // The window ended and the item was reaped: nothing to give back.
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl LinkStore for Dynamo {
    async fn put_link(&self, link: &LinkToken) -> StoreResult<bool> {
        // Only for a developer that exists and is approved (no orphan links, none for a
        // developer revoked meanwhile).
        let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::developer(link.developer_id), keys::PROFILE)))
            .condition_expression("attribute_exists(pk) AND #state = :approved")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":approved", s(DeveloperState::Approved.as_str()))
            .build()
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        // A link replaces only links of older requests; a replayed request rewrites its own
        // link unless that one was used meanwhile (then it stays used).
        let put = self.put_with(
            self.link_item(link)?,
            "attribute_not_exists(pk) OR attribute_not_exists(requested_ms) OR requested_ms < :ms \
             OR (requested_ms = :ms AND attribute_not_exists(link_used))",
            vec![(":ms", n(link.created_at.timestamp_millis()))],
        )?;
        match self.transact_conditional(vec![TransactWriteItem::builder().condition_check(check).build(), put]).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn link_and_developer(&self, developer_id: Uuid, purpose: LinkPurpose) -> StoreResult<(Option<LinkToken>, Option<Developer>)> {
        self.with_developer(developer_id, &keys::link(purpose)).await
    }
}

impl Dynamo {
    fn team_item(&self, t: &Team) -> StoreResult<Item> {
        Ok(with_keys(
            to_item(t)?,
            "team",
            &[
                ("pk", keys::team(t.id)),
                ("sk", "TEAM".to_string()),
                ("gsi2pk", format!("PORTAL#{}#TEAMS", t.portal_id)),
                ("gsi2sk", t.id.to_string()),
            ],
        ))
    }

    fn membership_item(&self, team: &Team, developer: Uuid) -> Item {
        let mut item = key(keys::developer(developer), &keys::team(team.id));
        item.insert("kind".into(), s("team_membership"));
        item.insert("team_id".into(), s(team.id.to_string()));
        item.insert("developer_id".into(), s(developer.to_string()));
        item.insert("gsi1pk".into(), s(format!("TEAM#{}#MEMBERS", team.id)));
        item.insert("gsi1sk".into(), s(developer.to_string()));
        item
    }

    fn app_item(&self, a: &Application) -> StoreResult<Item> {
        Ok(with_keys(to_item(a)?, "application", &[("pk", keys::developer(a.developer_id)), ("sk", keys::app(a.id))]))
    }

    fn credential_item(&self, c: &Credential) -> StoreResult<Item> {
        Ok(with_keys(to_item(c)?, "credential", &[("pk", keys::developer(c.developer_id)), ("sk", keys::api_key(&c.key_hash))]))
    }

    /// The developer written back with a version check (counts, team lists).
    fn developer_put(&self, before: &Developer, after: &Developer) -> StoreResult<TransactWriteItem> {
        let mut item = self.put_with(
            self.developer_item(after)?,
            "attribute_exists(pk) AND version = :v AND #state = :s",
            vec![(":v", n(before.version as i64)), (":s", s(before.state.as_str()))],
        )?;
        if let Some(p) = item.put.as_mut() {
            p.expression_attribute_names = Some(HashMap::from([("#state".to_string(), "state".to_string())]));
        }
        Ok(item)
    }

    async fn batch_get(&self, keys_: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut out_items = Vec::new();
        for chunk in keys_.chunks(100) {
            let mut pending = chunk.to_vec();
            for attempt in 0..8u32 {
                let ka = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Other(Box::new(e)))?;
                let out = self.client.batch_get_item().request_items(&self.table, ka).send().await.map_err(classify)?;
                out_items.extend(out.responses.unwrap_or_default().remove(&self.table).unwrap_or_default());
                pending = out.unprocessed_keys.and_then(|mut m| m.remove(&self.table)).map(|ka| ka.keys).unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                if attempt == 7 {
                    return Err(StoreError::Unavailable("batch read kept being throttled".into()));
                }
                tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
            }
        }
        Ok(out_items)
    }
}

impl Dynamo {
    /// An item of a developer's collection together with the developer, in one round trip.
    async fn with_developer<T: DeserializeOwned>(&self, developer_id: Uuid, sk: &str) -> StoreResult<(Option<T>, Option<Developer>)> {
        let items = self.batch_get(vec![key(keys::developer(developer_id), keys::PROFILE), key(keys::developer(developer_id), sk)]).await?;
        let (mut owned, mut developer) = (None, None);
        for item in items {
            if item_str(&item, "sk").as_deref() == Some(keys::PROFILE) {
                developer = Some(from_item(item)?);
            } else {
                owned = Some(from_item(item)?);
            }
        }
        Ok((owned, developer))
    }
}

impl TeamStore for Dynamo {
    async fn create_team(&self, team: &Team) -> StoreResult<()> {
        let mut marker = key(format!("PORTAL#{}#TEAMNAME#{}", team.portal_id, team.name.to_lowercase()), keys::UNIQUE);
        marker.insert("kind".into(), s("unique"));
        marker.insert("team_id".into(), s(team.id.to_string()));
        self.transact_conditional(vec![
            self.put(self.team_item(team)?, Some("attribute_not_exists(pk)"))?,
            self.put(marker, Some("attribute_not_exists(pk)"))?,
        ])
        .await
    }

    async fn get_team(&self, id: Uuid) -> StoreResult<Option<Team>> {
        self.get_as(key(keys::team(id), "TEAM")).await
    }

    async fn list_teams(&self, portal_id: Uuid, limit: usize, cursor: Option<String>) -> StoreResult<Page<Team>> {
        let limit = limit.clamp(1, 100);
        let partition = format!("PORTAL#{portal_id}#TEAMS");
        let f = fingerprint(&[&partition]);
        let start = start_key(&cursor, &f, &["pk", "sk", "gsi2pk", "gsi2sk"], "gsi2pk", &partition)?;
        let (items, _) = self.query(Some("gsi2"), "gsi2pk = :p", vec![(":p", s(partition.clone()))], None, start, Some(limit + 1)).await?;
        page_of(items, limit, f, &["pk", "sk", "gsi2pk", "gsi2sk"], None)
    }

    async fn set_membership(&self, before: &Developer, after: &Developer, team: &Team, add: bool) -> StoreResult<()> {
        let membership = if add {
            self.put(self.membership_item(team, before.id), Some("attribute_not_exists(pk)"))?
        } else {
            self.delete_if(key(keys::developer(before.id), &keys::team(team.id)), "attribute_exists(pk)", vec![])?
        };
        let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::team(team.id), "TEAM")))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        self.transact_conditional(vec![
            self.developer_put(before, after)?,
            membership,
            TransactWriteItem::builder().condition_check(check).build(),
        ])
        .await
    }

    async fn team_members(&self, team_id: Uuid, limit: usize, cursor: Option<String>) -> StoreResult<Page<Developer>> {
        let limit = limit.clamp(1, 100);
        let partition = format!("TEAM#{team_id}#MEMBERS");
        let f = fingerprint(&[&partition]);
        let key_attrs = ["pk", "sk", "gsi1pk", "gsi1sk"];
        let start = start_key(&cursor, &f, &key_attrs, "gsi1pk", &partition)?;
        // The page of memberships (limit + 1) and the exact count, concurrently; then the
        // page's developers in one BatchGetItem.
        let (members, total) = tokio::join!(
            self.query(Some("gsi1"), "gsi1pk = :p", vec![(":p", s(partition.clone()))], None, start, Some(limit + 1)),
            self.count_matches(Some("gsi1"), "gsi1pk = :p", vec![(":p", s(partition.clone()))], None)
        );
        let (members, total) = (members?.0, total?);
        let (members, next_cursor) = page_items(members, limit, f, &key_attrs);
        let keys_: Vec<Item> = members.iter().filter_map(|m| item_str(m, "pk")).map(|pk| key(pk, keys::PROFILE)).collect();
        let mut devs: Vec<Developer> = self.batch_get(keys_).await?.into_iter().map(from_item).collect::<StoreResult<_>>()?;
        devs.sort_by_key(|d| d.id);
        Ok(Page { items: devs, total: Some(total), next_cursor })
    }
}

impl AppStore for Dynamo {
    async fn create_app(&self, before: &Developer, after: &Developer, app: &Application) -> StoreResult<()> {
        self.transact_conditional(vec![
            self.developer_put(before, after)?,
            self.put(self.app_item(app)?, Some("attribute_not_exists(pk)"))?,
        ])
        .await
    }

    async fn get_app(&self, developer_id: Uuid, app_id: Uuid) -> StoreResult<Option<Application>> {
        self.get_as(key(keys::developer(developer_id), &keys::app(app_id))).await
    }

    async fn list_apps(&self, developer_id: Uuid) -> StoreResult<Vec<Application>> {
        let (items, _) = self
            .query(
                None,
                "pk = :pk AND begins_with(sk, :app)",
                vec![(":pk", s(keys::developer(developer_id))), (":app", s("APP#"))],
                None,
                None,
                None,
            )
            .await?;
        items.into_iter().map(from_item).collect()
    }

    async fn update_app(&self, app: &Application) -> StoreResult<()> {
        self.transact_conditional(vec![self.put_with(self.app_item(app)?, "version = :v", vec![(":v", n(app.version as i64 - 1))])?]).await
    }

    async fn delete_app(&self, before: &Developer, after: &Developer, app: &Application) -> StoreResult<()> {
        let creds = self.list_credentials(app.developer_id, app.id).await?;
        let mut items = vec![
            self.developer_put(before, after)?,
            self.delete_if(key(keys::developer(app.developer_id), &keys::app(app.id)), "attribute_exists(pk)", vec![])?,
        ];
        for c in creds.iter().take(90) {
            items.push(self.delete(key(keys::developer(c.developer_id), &keys::api_key(&c.key_hash)))?);
        }
        self.transact_conditional(items).await
    }

    async fn put_credential(&self, c: &Credential) -> StoreResult<()> {
        let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::developer(c.developer_id), &keys::app(c.application_id))))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        self.transact_conditional(vec![
            TransactWriteItem::builder().condition_check(check).build(),
            self.put(self.credential_item(c)?, Some("attribute_not_exists(pk)"))?,
        ])
        .await
    }

    async fn list_credentials(&self, developer_id: Uuid, app_id: Uuid) -> StoreResult<Vec<Credential>> {
        let (items, _) = self
            .query(
                None,
                "pk = :pk AND begins_with(sk, :key)",
                vec![(":pk", s(keys::developer(developer_id))), (":key", s("KEY#"))],
                Some(("application_id = :app", vec![(":app", s(app_id.to_string()))], vec![])),
                None,
                None,
            )
            .await?;
        items.into_iter().map(from_item).collect()
    }

    async fn delete_credential(&self, c: &Credential) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::developer(c.developer_id), &keys::api_key(&c.key_hash))))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn key_lookup(
        &self,
        developer_id: Uuid,
        app_id: Uuid,
        key_hash: &str,
    ) -> StoreResult<(Option<Credential>, Option<Developer>, Option<Application>)> {
        let items = self
            .batch_get(vec![
                key(keys::developer(developer_id), keys::PROFILE),
                key(keys::developer(developer_id), &keys::api_key(key_hash)),
                key(keys::developer(developer_id), &keys::app(app_id)),
            ])
            .await?;
        let (mut c, mut d, mut a) = (None, None, None);
        for item in items {
            match item_str(&item, "kind").as_deref() {
                Some("developer") => d = Some(from_item(item)?),
                Some("credential") => c = Some(from_item(item)?),
                Some("application") => a = Some(from_item(item)?),
                _ => {}
            }
        }
        Ok((c, d, a))
    }
}

//! Transactions whose items carry labels. A cancelled `TransactWriteItems` returns one reason
//! per item, in request order; the builder keeps a label beside each item, so a cancellation
//! is read by label (`cancelled.failed(Label::EmailMarker)`), never by position: reordering or
//! adding an item cannot change what an error means.

use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    CancellationReason, ConditionCheck, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use uuid::Uuid;

use super::attr::{classify, item_str, key, n, other, Expr, Item};
use super::{keys, Dynamo};
use crate::domain::DeveloperState;
use crate::store::{StoreError, StoreResult};

/// What an item of a transaction is, to read its cancellation reason by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    Portal,
    PortalIndex,
    Counters,
    Developer,
    EmailMarker,
    UsernameMarker,
    Approval,
    Event,
    Invite,
    InviteMarker,
    Link,
    Session,
    Team,
    TeamName,
    Membership,
    App,
    Credential,
    /// Something the developer owns, deleted with it.
    Owned,
    MailMarker,
    /// The (issuer, subject) marker of an SSO account.
    SsoSubject,
    Webhook,
}

/// A transaction being built: its items and their labels, in request order.
pub(crate) struct Tx<'a> {
    table: &'a str,
    items: Vec<TransactWriteItem>,
    labels: Vec<Label>,
}

impl<'a> Tx<'a> {
    pub fn new(db: &'a Dynamo) -> Self {
        Self { table: &db.table, items: Vec::new(), labels: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    #[cfg(test)]
    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    fn push(&mut self, label: Label, item: TransactWriteItem) -> &mut Self {
        self.items.push(item);
        self.labels.push(label);
        self
    }

    /// A put, with an optional condition without placeholders; a failed condition returns the
    /// old item (for a marker: who holds it).
    pub fn put(&mut self, label: Label, item: Item, condition: Option<&str>) -> StoreResult<&mut Self> {
        let put = Put::builder()
            .table_name(self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(other)?;
        Ok(self.push(label, TransactWriteItem::builder().put(put).build()))
    }

    /// A put if the item does not exist yet.
    pub fn create(&mut self, label: Label, item: Item) -> StoreResult<&mut Self> {
        self.put(label, item, Some("attribute_not_exists(pk)"))
    }

    /// A put under a condition with placeholders.
    pub fn put_if(&mut self, label: Label, item: Item, condition: Expr) -> StoreResult<&mut Self> {
        let put = Put::builder()
            .table_name(self.table)
            .set_item(Some(item))
            .condition_expression(condition.text.clone())
            .set_expression_attribute_names(condition.names())
            .set_expression_attribute_values(condition.values())
            .build()
            .map_err(other)?;
        Ok(self.push(label, TransactWriteItem::builder().put(put).build()))
    }

    pub fn delete(&mut self, label: Label, key: Item) -> StoreResult<&mut Self> {
        let d = Delete::builder().table_name(self.table).set_key(Some(key)).build().map_err(other)?;
        Ok(self.push(label, TransactWriteItem::builder().delete(d).build()))
    }

    pub fn delete_if(&mut self, label: Label, key: Item, condition: Expr) -> StoreResult<&mut Self> {
        let d = Delete::builder()
            .table_name(self.table)
            .set_key(Some(key))
            .condition_expression(condition.text.clone())
            .set_expression_attribute_names(condition.names())
            .set_expression_attribute_values(condition.values())
            .build()
            .map_err(other)?;
        Ok(self.push(label, TransactWriteItem::builder().delete(d).build()))
    }

    /// An update; `condition` shares the update's names and values (DynamoDB has one map).
    pub fn update(&mut self, label: Label, key: Item, update: Expr, condition: Option<&str>) -> StoreResult<&mut Self> {
        let u = Update::builder()
            .table_name(self.table)
            .set_key(Some(key))
            .update_expression(update.text.clone())
            .set_condition_expression(condition.map(str::to_string))
            .set_expression_attribute_names(update.names())
            .set_expression_attribute_values(update.values())
            .build()
            .map_err(other)?;
        Ok(self.push(label, TransactWriteItem::builder().update(u).build()))
    }

    /// A condition on an item that is not written.
    pub fn check(&mut self, label: Label, key: Item, condition: Expr) -> StoreResult<&mut Self> {
        let c = ConditionCheck::builder()
            .table_name(self.table)
            .set_key(Some(key))
            .condition_expression(condition.text.clone())
            .set_expression_attribute_names(condition.names())
            .set_expression_attribute_values(condition.values())
            .build()
            .map_err(other)?;
        Ok(self.push(label, TransactWriteItem::builder().condition_check(c).build()))
    }

    /// `ADD`s deltas to the portal's per-state counters.
    pub fn count(&mut self, portal: Uuid, deltas: &[(DeveloperState, i64)]) -> StoreResult<&mut Self> {
        let mut expr = Expr::default();
        let mut parts = Vec::new();
        for (i, (state, delta)) in deltas.iter().enumerate() {
            expr = expr.name(&format!("#c{i}"), state.as_str()).value(&format!(":d{i}"), n(*delta));
            parts.push(format!("#c{i} :d{i}"));
        }
        expr.text = format!("ADD {}", parts.join(", "));
        self.update(Label::Counters, key(keys::portal(portal), keys::COUNTERS), expr, None)
    }

    /// Sends the transaction. A cancellation made only of `TransactionConflict`s (two
    /// transactions on the same item, e.g. the portal's counters) is retried here; any other
    /// cancellation comes back with its reasons by label.
    pub async fn send(self, db: &Dynamo) -> Result<(), TxError> {
        let mut attempt = 0;
        loop {
            // Idempotent under the SDK's own retries: a retried request that already
            // committed returns success instead of a false conflict.
            let result = db
                .client
                .transact_write_items()
                .client_request_token(Uuid::new_v4().to_string())
                .set_transact_items(Some(self.items.clone()))
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
                    return Err(TxError::Cancelled(Cancelled::new(self.labels, reasons)));
                }
            }
            return Err(TxError::Store(classify(err)));
        }
    }

    /// Sends the transaction; any failed condition is a `Conflict`.
    pub async fn commit(self, db: &Dynamo) -> StoreResult<()> {
        match self.send(db).await {
            Ok(()) => Ok(()),
            Err(TxError::Cancelled(c)) if c.any_failed() => Err(StoreError::Conflict),
            Err(TxError::Cancelled(c)) => Err(c.unavailable()),
            Err(TxError::Store(e)) => Err(e),
        }
    }
}

pub(crate) enum TxError {
    Cancelled(Cancelled),
    Store(StoreError),
}

/// A cancelled transaction: each item's label with its reason (code `None` where the item
/// was fine).
#[derive(Debug)]
pub(crate) struct Cancelled {
    reasons: Vec<(Label, CancellationReason)>,
}

const CONDITION_FAILED: &str = "ConditionalCheckFailed";

impl Cancelled {
    pub fn new(labels: Vec<Label>, reasons: Vec<CancellationReason>) -> Self {
        Self { reasons: labels.into_iter().zip(reasons).collect() }
    }

    /// Whether the condition of an item with this label failed.
    pub fn failed(&self, label: Label) -> bool {
        self.reasons.iter().any(|(l, r)| *l == label && r.code() == Some(CONDITION_FAILED))
    }

    pub fn any_failed(&self) -> bool {
        self.reasons.iter().any(|(_, r)| r.code() == Some(CONDITION_FAILED))
    }

    /// The old item DynamoDB returned for the failed item with this label (puts only).
    pub fn old_item(&self, label: Label) -> Option<&Item> {
        self.reasons.iter().find(|(l, r)| *l == label && r.code() == Some(CONDITION_FAILED)).and_then(|(_, r)| r.item())
    }

    /// A string attribute of that old item.
    pub fn old_str(&self, label: Label, attr: &str) -> Option<String> {
        self.old_item(label).and_then(|i| item_str(i, attr))
    }

    /// A cancellation without a failed condition: the database gave up (conflicts that kept
    /// recurring, throttling); worth retrying later.
    pub fn unavailable(&self) -> StoreError {
        let codes: Vec<Option<&str>> = self.reasons.iter().map(|(_, r)| r.code()).collect();
        StoreError::Unavailable(format!("transaction cancelled: {codes:?}"))
    }
}

/// How a cancelled transaction is retried. In real DynamoDB two transactions touching the
/// same item (the per-portal counters) cancel each other with `TransactionConflict`, and the
/// SDK does not retry that: we do, with jittered exponential backoff, a bounded number of times.
pub fn transaction_retry_delay(reasons: &[Option<&str>], attempt: u32, jitter: f64) -> Option<Duration> {
    const MAX_ATTEMPTS: u32 = 6;
    let conflict_only = reasons.contains(&Some("TransactionConflict"))
        && reasons.iter().all(|r| matches!(r, None | Some("None") | Some("TransactionConflict")));
    if !conflict_only || attempt + 1 >= MAX_ATTEMPTS {
        return None;
    }
    let base_ms = 20u64 << attempt.min(6);
    Some(Duration::from_millis((base_ms as f64 * (0.5 + jitter.clamp(0.0, 1.0))) as u64))
}

/// A reason as DynamoDB reports it, for tests.
#[cfg(test)]
pub(crate) fn reason(code: Option<&str>, old: Option<Item>) -> CancellationReason {
    CancellationReason::builder().set_code(code.map(str::to_string)).set_item(old).build()
}

#[cfg(test)]
#[path = "tx_tests.rs"]
mod tests;

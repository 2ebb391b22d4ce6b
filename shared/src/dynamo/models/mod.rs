//! Item models: one serde struct per kind of stored item, with every attribute it holds (keys,
//! index keys, `kind`, `ttl` and the data), converted to and from the domain structs.
//!
//! These structs are the table's schema. Their field names and serde attributes are the
//! stored attribute names, fixed by the items already in the table: renaming a domain field
//! changes a conversion here, never the data. Value types keep their own serde form inside
//! items (states and statuses as lower-case strings, event types as `developer.approved`,
//! `Uuid`s hyphenated, timestamps as chrono writes RFC 3339, `PortalSettings` as the API shows
//! them), and `None` is stored as `NULL` unless a field says it is left out.
//! `pk`, `sk` and `kind` are on every item ever written; attributes added later (index keys,
//! `requested_ms`, `ttl`) read as their default when missing.
//! `models/tests.rs` round-trips an item of each kind as the code before this module wrote it.

mod accounts;
mod records;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

pub(crate) use accounts::*;
pub(crate) use records::*;

use super::attr::{from_item, to_item, Item};
use crate::domain::DeveloperSnapshot;
use crate::store::StoreResult;

/// An item model of a domain struct: the item is built from the domain value alone.
pub(crate) trait Model: Serialize + DeserializeOwned {
    type Domain;
    fn from_domain(d: &Self::Domain) -> Self;
    fn into_domain(self) -> Self::Domain;
}

/// The item that stores a domain value.
pub(crate) fn encode<M: Model>(d: &M::Domain) -> StoreResult<Item> {
    to_item(&M::from_domain(d))
}

/// The domain value a stored item holds.
pub(crate) fn decode<M: Model>(item: Item) -> StoreResult<M::Domain> {
    from_item::<M>(item).map(M::into_domain)
}

/// Who a developer was, as kept on approvals and events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SnapshotItem {
    pub email: Option<String>,
    pub name: String,
    pub username: Option<String>,
}

impl From<&DeveloperSnapshot> for SnapshotItem {
    fn from(d: &DeveloperSnapshot) -> Self {
        Self { email: d.email.clone(), name: d.name.clone(), username: d.username.clone() }
    }
}

impl From<SnapshotItem> for DeveloperSnapshot {
    fn from(i: SnapshotItem) -> Self {
        Self { email: i.email, name: i.name, username: i.username }
    }
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Seconds after which DynamoDB's TTL reaper may delete an item.
fn epoch(t: crate::domain::Timestamp) -> i64 {
    t.timestamp()
}

#[cfg(test)]
mod tests;

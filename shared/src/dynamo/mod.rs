//! The DynamoDB adapter: every storage port over one table (keys and indexes in
//! `docs/design.md`).
//!
//! Layout:
//! - [`keys`]: every key, prefix, index partition and item `kind`;
//! - `models`: one serde struct per stored item kind, converted to and from the domain (the
//!   table's schema, byte-compatible with what is stored);
//! - `attr`: attribute values, expressions and error mapping; `ops`: single requests (get,
//!   query, count, batch reads and deletes); `cursor`: page cursors; `tx`: transactions whose
//!   items carry labels, so a cancellation is read by label;
//! - one module per group of ports: `portals` (portals, admin tokens), `developers`
//!   (registration, changes, deletion, counts) with `search` (listing and `q` search),
//!   `approvals` (approvals, invites), `outbox` (event log, mail ledger), `sessions`
//!   (sessions, links, throttle counters), `teams` (teams, applications, credentials).
//!
//! **Versions** (optimistic locking), one rule: the use case sets the new version
//! (`read + 1`) on the value it writes; the adapter conditions the write on the version that
//! was *read*, which [`read_version`] gives for a value written alone (`written - 1`), and
//! which is `before.version` for a before/after pair and the value's own version for a delete.
//! Nothing in the adapter bumps a version. Writes that are not versioned (touching
//! `last_active_at`, counters, markers) say so where they are made.

mod approvals;
mod attr;
mod audit;
mod console;
mod cursor;
mod deliveries;
mod developers;
mod idps;
pub mod keys;
mod models;
mod ops;
mod outbox;
mod portals;
mod replays;
mod search;
mod sessions;
mod teams;
mod tx;
mod webhooks;

use aws_sdk_dynamodb::Client;

pub use keys::kind::EVENT as KIND_EVENT;
pub use outbox::decode_event;
pub use tx::transaction_retry_delay;

#[derive(Clone)]
pub struct Dynamo {
    client: Client,
    table: String,
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

    /// A client that never reaches a database, for unit tests of the request builders.
    #[cfg(test)]
    pub(crate) fn offline() -> Self {
        let conf = aws_sdk_dynamodb::Config::builder().behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest()).build();
        Self::new(Client::from_conf(conf), "gatehouse")
    }
}

/// The version a value written alone was read at: the use case bumped it by one.
pub(crate) fn read_version(written: u64) -> u64 {
    written.saturating_sub(1)
}

/// The condition on a versioned item, with its value placeholder `:v`.
pub(crate) fn version_is(read: u64) -> attr::Expr {
    attr::Expr::new("version = :v").value(":v", attr::n(read as i64))
}

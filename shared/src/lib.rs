//! Gatehouse: developer accounts for API developer portals.
//!
//! Layers, from the inside out:
//! - `domain`: pure types, the lifecycle state machine, policies, records and events.
//! - leaves the use cases share: `fields` (input checks), `access` (admin-token scoping),
//!   `tokens` (every token format and prefix), `crypto`, `throttle`, `config`, `clock`.
//! - `store` and `mail`: the ports.
//! - use cases, one module per capability: `portals`, `registration`, `lifecycle`,
//!   `approvals`, `invites`, `sessions`, `recovery`, `teams`, `applications`, `authorizer`,
//!   `sso` (identity providers and the OIDC sign-in), and `consumer` (the outbox's stream consumer).
//! - adapters: `dynamo` (DynamoDB, with `dynamo_stream` reading its stream) and `ses` (SES v2), `kms` (sealed secrets), `oidc` (the OpenID Connect relying party); `http` (the edge every API function
//!   shares) and `routes`; `wiring` builds the clients each function needs.

pub mod access;
pub mod applications;
pub mod approvals;
pub mod audit;
pub mod authorizer;
pub mod aws_http;
pub mod clock;
pub mod config;
pub mod console;
pub mod consumer;
pub mod crypto;
pub mod delivery;
pub mod delivery_worker;
pub mod domain;
pub mod dynamo;
pub mod dynamo_stream;
pub mod error;
#[cfg(test)]
pub mod fakes;
pub mod fields;
pub mod http;
pub mod invites;
pub mod kms;
pub mod lifecycle;
pub mod logging;
pub mod mail;
pub mod oidc;
pub mod pages;
pub mod portals;
pub mod recovery;
pub mod registration;
pub mod replay;
pub mod routes;
pub mod ses;
pub mod sessions;
pub mod signing;
pub mod sqs;
pub mod sso;
pub mod store;
pub mod teams;
pub mod throttle;
pub mod tokens;
#[cfg(test)]
mod unit;
pub mod webhook_http;
pub mod webhooks;
pub mod wiring;

pub use error::AppError;

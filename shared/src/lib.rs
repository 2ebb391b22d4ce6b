//! Gatehouse: developer accounts for API developer portals.
//!
//! `domain` is pure; `store` and `mail` are the ports; `dynamo` and `ses` the adapters;
//! `service` the use cases; `http` the edge every API function shares; `consumer` the stream
//! consumer's logic.

pub mod accounts;
pub mod app;
pub mod apps;
pub mod consumer;
pub mod crypto;
pub mod domain;
pub mod dynamo;
pub mod error;
#[cfg(test)]
pub mod fakes;
pub mod http;
pub mod mail;
pub mod recovery;
pub mod routes;
pub mod service;
pub mod ses;
pub mod store;
pub mod throttle;

pub use error::AppError;

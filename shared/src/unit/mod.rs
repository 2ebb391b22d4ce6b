//! Unit tests of the use cases over the in-memory ports ([`crate::fakes`]): no emulator, in
//! seconds.

mod audit;
mod consumer;
mod consumer_batches;
mod deliveries;
mod lifecycle;
mod onboarding;
mod pages;
mod replays;
mod sso;
mod webhooks;

//! The ordering service node: configuration, channel registry, file ledger, the
//! `orderer.AtomicBroadcast` gRPC service (Broadcast and Deliver), and the consenters
//! selected by `Orderer.OrdererType`.
//!
//! `main.rs` only parses arguments and calls [`node::run`]; everything is here so
//! that tests can start a node in-process.

// Unit tests (cfg(test)) are exempt from the length limit; production code is not:
// the non-test build of this crate is linted too.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod admin;
pub mod bootstrap;
pub mod broadcast;
pub mod bundle;
pub mod channel_state;
pub mod config;
pub mod consenters;
pub mod deliver;
pub mod http;
pub mod ingress;
pub mod ledger;
pub mod metrics;
pub mod msgprocessor;
pub mod node;
pub mod ops;
pub mod participation;
pub mod registry;
pub mod security;
pub mod server;
pub mod shutdown;
pub mod support;
pub mod telemetry;
pub mod tls;

pub use node::{RunningNode, run, start};

//! The ordering service node.

pub mod config;

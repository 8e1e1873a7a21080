//! Channel MSPs built from `FabricMSPConfig`: one test per rule of Fabric's X.509 MSP
//! (v1.4.3 semantics), each named after the behaviour it mirrors.

#![allow(clippy::unwrap_used)]

mod common;
mod dir;
mod fabric_testdata;
mod identities;
mod manager;
mod principals;
mod robustness;
mod setup;
mod signatures;

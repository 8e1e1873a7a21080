//! The subcommands: each module holds its clap arguments and a `run`; `common`
//! holds what several of them share (targets and credentials, report printing).

pub(crate) mod bench;
pub(crate) mod block;
pub(crate) mod broadcast;
pub(crate) mod chain_check;
pub(crate) mod channel;
mod common;
pub(crate) mod deliver;
pub(crate) mod genesis;
pub(crate) mod msp;

//! The subcommands; `common` holds what several of them share (targets and
//! credentials, report printing).

pub(crate) mod common;

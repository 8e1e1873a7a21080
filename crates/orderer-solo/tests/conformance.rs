//! The whole consenter conformance suite, on solo.

mod common;

use common::Solo;

orderer_api::conformance_tests!(|| async { Solo });

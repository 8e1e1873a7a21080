//! The short chaos run (issue 13 item 4): three Kafka OSNs on an Apache Kafka node,
//! resending clients on all three, the broker and each OSN SIGKILLed and restarted,
//! one OSN cut off the broker for 10 s. Every acknowledged envelope must be in every
//! chain exactly once and the chains identical. `bench/run chaos` runs the long one.

#![allow(clippy::unwrap_used)]

mod common;

use orderer_testkit::chaos::{ChaosConfig, run};

#[test]
fn under_broker_and_osn_kills_and_a_partition_nothing_acked_is_lost_or_duplicated() {
    let config = ChaosConfig::short(common::orderer_bin(), common::cli_bin());
    let report = run(&config, &mut |line| eprintln!("chaos: {line}")).unwrap();
    println!("{}", report.table());
    println!("{}", report.json());
    // Every envelope the clients were told to send was sent and acknowledged (by tx
    // id, counted by chain-check): the resending clients must get through every fault.
    assert_eq!(
        report.envelopes,
        report.requested,
        "envelopes sent: {}",
        report.json()
    );
    assert_eq!(
        report.acked,
        report.requested,
        "envelopes acknowledged: {}",
        report.json()
    );
    assert!(report.identical, "the chains differ: {}", report.json());
    assert_eq!(
        report.lost,
        0,
        "acknowledged envelopes lost: {}",
        report.json()
    );
    assert!(report.panics.is_empty(), "{:?}", report.panics);
    assert!(report.bad_exits.is_empty(), "{:?}", report.bad_exits);
    assert!(
        report.client_problems.is_empty(),
        "{:?}",
        report.client_problems
    );
    assert!(
        report.longest_recovery().is_some(),
        "a chain did not grow again after a fault: {}",
        report.json()
    );
    assert_eq!(
        report.duplicates,
        0,
        "envelopes ordered twice: {}",
        report.json()
    );
}

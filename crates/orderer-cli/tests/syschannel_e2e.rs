//! Channel creation through a system channel with the project's own tools only:
//! organizations from `orderer-cli msp new`, the system channel's block 0 from
//! `orderer-cli genesis --system`, two Kafka OSNs on an Apache Kafka node booted from
//! it, and `orderer-cli channel create` in place of configtxgen and `peer channel
//! create`.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/syschannel.rs"]
mod syschannel;

use bytes::Bytes;
use common::{ok, stdout};
use orderer_api::channelconfig::ChannelValues;
use orderer_api::proto::common::Block;
use orderer_testkit::Broker;
use prost::Message;
use syschannel::{Network, Spec, block0, chain, wait_for_identical_chains};

const CHANNEL: &str = "newchan";

/// Orgs, the system channel block and two OSNs booted from it on one Apache Kafka
/// node.
fn network(broker: &Broker) -> Network {
    Network::start(&Spec {
        brokers: &[broker.bootstrap()],
        osns: 2,
        spare_orderers: 0,
        replication_factor: 1,
    })
}

#[test]
fn a_channel_created_with_the_projects_tools_is_served_by_both_kafka_osns() {
    let broker = Broker::start();
    let mut net = network(&broker);
    let admin = net.org1_admin();
    let orderer_admin = net.identity("OrdererOrg", "admin", "OrdererMSP");
    let (a, b) = (&net.osns[0], &net.osns[1]);

    // The channel does not exist before it is created.
    assert!(chain(b, CHANNEL, &admin).unwrap_err().contains("NOT_FOUND"));

    let out = ok(net.create(a, CHANNEL, &admin));
    assert!(out.starts_with("SUCCESS: created channel newchan"), "{out}");
    let written = std::fs::read(net.block_file(CHANNEL)).unwrap();
    // Both OSNs built the same block 0, the one the command wrote.
    for o in [a, b] {
        let served = block0(&o.addr(), CHANNEL, &admin);
        assert!(
            served.encode_to_vec() == written,
            "OSN {} serves another block 0",
            o.addr()
        );
    }
    let values = ChannelValues::from_block(&Block::decode(Bytes::from(written)).unwrap()).unwrap();
    assert_eq!(values.consortium(), Some("SampleConsortium"));
    let members: Vec<_> = values.application().unwrap().msp_ids().collect();
    assert_eq!(members, ["Org1MSP", "Org2MSP"]);

    // The new channel orders: transactions through either OSN, one chain.
    let mut args = vec!["broadcast", "--channel", CHANNEL, "--count", "15"];
    args.extend(admin.args());
    ok(a.cli(&args));
    let client = net.identity("Org1", "client", "Org1MSP");
    let mut args = vec!["broadcast", "--channel", CHANNEL, "--count", "7"];
    args.extend(client.args());
    ok(b.cli(&args));
    let before = wait_for_identical_chains(&[&net.osns[0], &net.osns[1]], CHANNEL, &admin, 23);

    // An admin of an org outside the consortium cannot create a channel.
    let refused = net.create(a, "otherchan", &orderer_admin);
    assert!(!refused.status.success());
    let text = stdout(&refused);
    assert!(text.starts_with("FORBIDDEN"), "{text}");
    assert!(text.contains("ChannelCreationPolicy"), "{text}");

    // The same name again is an update of the existing channel that the
    // channel refuses (its Application group is past version 0).
    let again = net.create(b, CHANNEL, &admin);
    assert!(!again.status.success());
    let text = stdout(&again);
    assert!(text.starts_with("BAD_REQUEST"), "{text}");

    // Restarted, both OSNs still serve the created channel, and it still orders.
    for o in &mut net.osns {
        assert!(o.terminate().success(), "a graceful stop exits 0");
        o.restart();
    }
    for o in &net.osns {
        o.wait_for_log("Kafka chain started", 4);
    }
    let (a, b) = (&net.osns[0], &net.osns[1]);
    let mut args = vec!["broadcast", "--channel", CHANNEL, "--count", "5"];
    args.extend(admin.args());
    ok(b.cli(&args));
    let after = wait_for_identical_chains(&[&net.osns[0], &net.osns[1]], CHANNEL, &admin, 28);
    assert_eq!(after[..before.len()], before[..], "history changed");
    assert!(
        chain(a, "otherchan", &admin)
            .unwrap_err()
            .contains("NOT_FOUND")
    );
    drop(net);
    drop(broker);
}

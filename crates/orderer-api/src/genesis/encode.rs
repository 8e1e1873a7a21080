//! The config tree of a checked profile, laid out as configtxgen lays it out: which
//! values exist, their keys, their `mod_policy`, all versions 0.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use prost::Message;

use crate::blockcutter::BatchSize;
use crate::consensus::ConsenterKind;
use crate::duration;
use crate::policies::dsl::{accept_all, signature_policy};
use crate::proto::common::{
    BlockDataHashingStructure, Capabilities, Capability, ConfigGroup, ConfigPolicy, ConfigValue,
    Consortium, HashingAlgorithm, OrdererAddresses,
};
use crate::proto::orderer as ord;
use crate::proto::peer;

use super::policy::{ADMINS, Policies};
use super::profile::{ApplicationProfile, Consensus, Profile};
use super::validate::{Checked, CheckedOrg};

/// Group keys of the channel config.
pub const ORDERER_GROUP: &str = "Orderer";
/// See [`ORDERER_GROUP`].
pub const APPLICATION_GROUP: &str = "Application";
/// See [`ORDERER_GROUP`]; a system channel's.
pub const CONSORTIUMS_GROUP: &str = "Consortiums";

/// Orderer admins govern who orders: configtxgen gives `OrdererAddresses` this
/// `mod_policy` rather than the channel's `Admins`.
const ORDERER_ADMINS: &str = "/Channel/Orderer/Admins";

fn value(msg: &impl Message, mod_policy: &str) -> ConfigValue {
    ConfigValue {
        version: 0,
        value: msg.encode_to_vec().into(),
        mod_policy: mod_policy.to_owned(),
    }
}

fn group() -> ConfigGroup {
    ConfigGroup {
        mod_policy: ADMINS.to_owned(),
        ..Default::default()
    }
}

fn add_policies(group: &mut ConfigGroup, policies: &Policies) {
    for (name, policy) in policies {
        group.policies.insert(
            name.clone(),
            ConfigPolicy {
                version: 0,
                policy: Some(policy.clone()),
                mod_policy: ADMINS.to_owned(),
            },
        );
    }
}

/// configtxgen writes no `Capabilities` value when none are set.
fn add_capabilities(group: &mut ConfigGroup, names: &BTreeSet<String>) {
    if names.is_empty() {
        return;
    }
    let capabilities = Capabilities {
        capabilities: names.iter().map(|n| (n.clone(), Capability {})).collect(),
    };
    group
        .values
        .insert("Capabilities".into(), value(&capabilities, ADMINS));
}

/// `/Channel`, with its `Orderer` group and its `Application` and/or
/// `Consortiums` group.
pub(crate) fn channel_group(p: &Profile, checked: &Checked<'_>) -> ConfigGroup {
    let mut channel = group();
    add_policies(&mut channel, &p.policies);
    channel.values.insert(
        "HashingAlgorithm".into(),
        value(
            &HashingAlgorithm {
                name: "SHA256".into(),
            },
            ADMINS,
        ),
    );
    // Fabric supports only this width: the data hash covers all envelopes at once.
    channel.values.insert(
        "BlockDataHashingStructure".into(),
        value(&BlockDataHashingStructure { width: u32::MAX }, ADMINS),
    );
    if !p.orderer.addresses.is_empty() {
        channel.values.insert(
            "OrdererAddresses".into(),
            value(
                &OrdererAddresses {
                    addresses: p.orderer.addresses.clone(),
                },
                ORDERER_ADMINS,
            ),
        );
    }
    if let Some(name) = &p.consortium {
        channel.values.insert(
            "Consortium".into(),
            value(&Consortium { name: name.clone() }, ADMINS),
        );
    }
    add_capabilities(&mut channel, &p.capabilities);
    channel.groups.insert(
        ORDERER_GROUP.into(),
        orderer_group(p, &checked.orderer_orgs),
    );
    if let Some(a) = &p.application {
        channel.groups.insert(
            APPLICATION_GROUP.into(),
            application_group(a, &checked.application_orgs),
        );
    }
    if p.consortiums.is_some() {
        channel
            .groups
            .insert(CONSORTIUMS_GROUP.into(), consortiums_group(p, checked));
    }
    channel
}

/// Governed by the orderer admins: every element's `mod_policy` is
/// `/Channel/Orderer/Admins`. Its `Admins` policy accepts anything, and nothing
/// refers to it but the channel's implicit meta policies, where it hands the
/// system channel's administration to the orderer orgs.
fn consortiums_group(p: &Profile, checked: &Checked<'_>) -> ConfigGroup {
    let mut g = ConfigGroup {
        mod_policy: ORDERER_ADMINS.to_owned(),
        ..Default::default()
    };
    g.policies.insert(
        ADMINS.into(),
        ConfigPolicy {
            version: 0,
            policy: Some(signature_policy(&accept_all())),
            mod_policy: ORDERER_ADMINS.to_owned(),
        },
    );
    for (name, consortium) in p.consortiums.iter().flatten() {
        let mut cg = ConfigGroup {
            mod_policy: ORDERER_ADMINS.to_owned(),
            ..Default::default()
        };
        cg.values.insert(
            "ChannelCreationPolicy".into(),
            value(&consortium.channel_creation_policy, ORDERER_ADMINS),
        );
        for org in checked
            .consortium_orgs
            .get(name.as_str())
            .into_iter()
            .flatten()
        {
            cg.groups.insert(org.org.name.clone(), org_group(org));
        }
        g.groups.insert(name.clone(), cg);
    }
    g
}

fn orderer_group(p: &Profile, orgs: &[CheckedOrg<'_>]) -> ConfigGroup {
    let o = &p.orderer;
    let mut g = group();
    add_policies(&mut g, &o.policies);
    g.values
        .insert("BatchSize".into(), batch_size_value(&o.batch_size));
    g.values
        .insert("BatchTimeout".into(), batch_timeout_value(o.batch_timeout));
    g.values.insert(
        "ChannelRestrictions".into(),
        value(
            &ord::ChannelRestrictions {
                max_count: o.max_channels,
            },
            ADMINS,
        ),
    );
    add_capabilities(&mut g, &o.capabilities);
    // Solo and Kafka have no consensus metadata; Kafka records its seed brokers.
    if let Consensus::Kafka { brokers } = &o.consensus {
        g.values.insert(
            "KafkaBrokers".into(),
            value(
                &ord::KafkaBrokers {
                    brokers: brokers.clone(),
                },
                ADMINS,
            ),
        );
    }
    g.values.insert(
        "ConsensusType".into(),
        consensus_type_value(o.consensus.kind()),
    );
    for org in orgs {
        let mut og = org_group(org);
        if !org.org.orderer_endpoints.is_empty() {
            og.values.insert(
                "Endpoints".into(),
                value(
                    &OrdererAddresses {
                        addresses: org.org.orderer_endpoints.clone(),
                    },
                    ADMINS,
                ),
            );
        }
        g.groups.insert(org.org.name.clone(), og);
    }
    g
}

/// `Orderer/BatchSize`, as a profile writes it (version 0).
pub(crate) fn batch_size_value(batch_size: &BatchSize) -> ConfigValue {
    value(
        &ord::BatchSize {
            max_message_count: batch_size.max_message_count,
            absolute_max_bytes: batch_size.absolute_max_bytes,
            preferred_max_bytes: batch_size.preferred_max_bytes,
        },
        ADMINS,
    )
}

/// `Orderer/BatchTimeout`, as a profile writes it (version 0).
pub(crate) fn batch_timeout_value(timeout: Duration) -> ConfigValue {
    value(
        &ord::BatchTimeout {
            timeout: duration::format(timeout),
        },
        ADMINS,
    )
}

/// `Orderer/ConsensusType`, as a profile writes it (version 0): solo and Kafka
/// have no consensus metadata, and a new channel is not in maintenance.
pub(crate) fn consensus_type_value(kind: ConsenterKind) -> ConfigValue {
    value(
        &ord::ConsensusType {
            r#type: kind.as_str().into(),
            ..Default::default()
        },
        ADMINS,
    )
}

fn application_group(a: &ApplicationProfile, orgs: &[CheckedOrg<'_>]) -> ConfigGroup {
    let mut g = application_settings(&a.policies, &a.capabilities, &a.acls);
    for org in orgs {
        let mut og = org_group(org);
        if !org.org.anchor_peers.is_empty() {
            let anchors = peer::AnchorPeers {
                anchor_peers: org
                    .org
                    .anchor_peers
                    .iter()
                    .map(|a| peer::AnchorPeer {
                        host: a.host.clone(),
                        port: i32::from(a.port),
                    })
                    .collect(),
            };
            og.values
                .insert("AnchorPeers".into(), value(&anchors, ADMINS));
        }
        g.groups.insert(org.org.name.clone(), og);
    }
    g
}

/// The Application group without its orgs: policies, `ACLs`, `Capabilities`.
pub(crate) fn application_settings(
    policies: &Policies,
    capabilities: &BTreeSet<String>,
    acls: &BTreeMap<String, String>,
) -> ConfigGroup {
    let mut g = group();
    add_policies(&mut g, policies);
    if !acls.is_empty() {
        let acls = peer::AcLs {
            acls: acls
                .iter()
                .map(|(resource, policy)| {
                    (
                        resource.clone(),
                        peer::ApiResource {
                            policy_ref: policy.clone(),
                        },
                    )
                })
                .collect(),
        };
        g.values.insert("ACLs".into(), value(&acls, ADMINS));
    }
    add_capabilities(&mut g, capabilities);
    g
}

/// An empty group under `Admins`: what a config update names an unchanged
/// group by (only its key and version matter).
pub(crate) fn empty_group() -> ConfigGroup {
    group()
}

/// An org's group: its MSP and policies (endpoints are added by the caller).
fn org_group(org: &CheckedOrg<'_>) -> ConfigGroup {
    let mut g = group();
    add_policies(&mut g, &org.policies);
    g.values.insert("MSP".into(), value(&org.msp, ADMINS));
    g
}

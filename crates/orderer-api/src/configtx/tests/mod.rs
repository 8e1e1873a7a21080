//! Table tests of config updates, each named after the Fabric behaviour it
//! mirrors, over a fake MSP (no crypto; `tests/configtx_fabric.rs` runs real MSPs
//! and Fabric's tools).
//!
//! A fake identity is the text `MSPID:roles:name` (`Org1MSP:admin:alice`): it is a
//! member of its MSP and holds the listed roles. A signature verifies when it is
//! `good`. Org1MSP..Org3MSP and OrdererMSP exist.

mod compute;
mod creation;
mod maintenance;
mod update;

use std::sync::Arc;

use bytes::Bytes;
use prost::Message;

use crate::channelconfig::ChannelValues;
use crate::genesis::{AnchorPeer, Consensus, Organization, Profile};
use crate::policies::{Identity, IdentityDeserializer, MspRefusal, PolicyManager};
use crate::proto::common::msp_principal::Classification;
use crate::proto::common::msp_role::MspRoleType;
use crate::proto::common::{
    ChannelHeader, Config, ConfigGroup, ConfigSignature, ConfigUpdate, ConfigUpdateEnvelope,
    ConfigValue, Envelope, Header, HeaderType, MspPrincipal, MspRole, Payload, SignatureHeader,
};
use crate::proto::msp::FabricMspConfig;

use super::{UpdateError, UpdateErrorClass, Validator};

#[derive(Debug)]
struct FakeIdentity {
    serialized: Vec<u8>,
    msp_id: String,
    roles: Vec<String>,
}

impl Identity for FakeIdentity {
    fn msp_id(&self) -> &str {
        &self.msp_id
    }

    fn unique_id(&self) -> &[u8] {
        &self.serialized
    }

    fn satisfies_principal(&self, principal: &MspPrincipal) -> Result<(), MspRefusal> {
        if principal.principal_classification != Classification::Role as i32 {
            return Err("only ROLE principals".into());
        }
        let role = MspRole::decode(principal.principal.clone()).map_err(|e| e.to_string())?;
        if role.msp_identifier != self.msp_id {
            return Err(format!("not of MSP {}", role.msp_identifier).into());
        }
        let role = MspRoleType::try_from(role.role).map_err(|e| e.to_string())?;
        let name = role.as_str_name().to_ascii_lowercase();
        if role == MspRoleType::Member || self.roles.contains(&name) {
            Ok(())
        } else {
            Err(format!("not {name}").into())
        }
    }

    fn verify(&self, _data: &[u8], signature: &[u8]) -> Result<(), MspRefusal> {
        if signature == b"good" {
            Ok(())
        } else {
            Err("signature does not verify".into())
        }
    }
}

#[derive(Debug)]
struct FakeMsps;

impl IdentityDeserializer for FakeMsps {
    fn deserialize_identity(&self, serialized: &[u8]) -> Result<Arc<dyn Identity>, MspRefusal> {
        let text = std::str::from_utf8(serialized).map_err(|_| "not UTF-8".to_owned())?;
        let [msp_id, roles, _name] = text.split(':').collect::<Vec<_>>()[..] else {
            return Err(format!("malformed identity {text:?}").into());
        };
        if !matches!(msp_id, "Org1MSP" | "Org2MSP" | "Org3MSP" | "OrdererMSP") {
            return Err(format!("unknown MSP {msp_id}").into());
        }
        Ok(Arc::new(FakeIdentity {
            serialized: serialized.to_vec(),
            msp_id: msp_id.to_owned(),
            roles: roles
                .split(',')
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
        }))
    }
}

const CHANNEL: &str = "mychannel";
const ORDERER_ADMIN: &str = "OrdererMSP:admin:o";
const ORG1_ADMIN: &str = "Org1MSP:admin:alice";
const ORG2_ADMIN: &str = "Org2MSP:admin:bob";
const ORG1_MEMBER: &str = "Org1MSP::carol";

fn org(name: &str, msp_id: &str) -> Organization {
    let msp = FabricMspConfig {
        name: msp_id.into(),
        root_certs: vec![Bytes::from(format!("root of {msp_id}"))],
        ..Default::default()
    };
    Organization::new(name, msp_id, msp.into())
}

/// configtxgen's layout: solo, OrdererOrg (OrdererMSP), Org1 (with anchor peers)
/// and Org2, V2_0 everywhere, orderer addresses (mod_policy /Channel/Orderer/Admins).
fn profile() -> Profile {
    let mut org1 = org("Org1", "Org1MSP");
    org1.anchor_peers = vec![AnchorPeer {
        host: "peer0.org1".into(),
        port: 7051,
    }];
    let mut p = Profile::new(
        CHANNEL,
        Consensus::Solo,
        vec![org("OrdererOrg", "OrdererMSP")],
        vec![org1, org("Org2", "Org2MSP")],
    );
    p.orderer.addresses = vec!["orderer0:7050".into()];
    p
}

fn config() -> Config {
    profile().config().unwrap()
}

/// A configuration in force and its policies: what a [`Validator`] borrows.
struct Current {
    values: ChannelValues,
    policies: PolicyManager,
}

impl Current {
    fn validator(&self) -> Validator<'_> {
        Validator::new(&self.values, &self.policies).unwrap()
    }
}

fn current_of(config: &Config) -> Current {
    let group = config.channel_group.clone().unwrap();
    Current {
        values: ChannelValues::new(CHANNEL, config.clone()).unwrap(),
        policies: PolicyManager::from_config_group("Channel", &group).unwrap(),
    }
}

fn current() -> Current {
    current_of(&config())
}

/// The group at `path` below `/Channel`.
fn at<'a>(root: &'a ConfigGroup, path: &[&str]) -> &'a ConfigGroup {
    path.iter().fold(root, |g, key| &g.groups[*key])
}

fn at_mut<'a>(root: &'a mut ConfigGroup, path: &[&str]) -> &'a mut ConfigGroup {
    path.iter()
        .fold(root, |g, key| g.groups.get_mut(*key).unwrap())
}

/// A shell of `group`: its version and mod_policy, no content. How compute_update
/// lists the groups above a change.
fn shell(group: &ConfigGroup) -> ConfigGroup {
    ConfigGroup {
        version: group.version,
        mod_policy: group.mod_policy.clone(),
        ..Default::default()
    }
}

/// Read and write sets holding the shells of the groups from `/Channel` down to
/// `path`, as compute_update makes them for a change inside the group at `path`;
/// `edit` then fills the innermost write-set (and, with [`sets_rw`], read-set) group.
fn sets(
    config: &Config,
    path: &[&str],
    edit: impl FnOnce(&mut ConfigGroup, &ConfigGroup),
) -> (ConfigGroup, ConfigGroup) {
    sets_rw(config, path, |_, w, current| edit(w, current))
}

fn sets_rw(
    config: &Config,
    path: &[&str],
    edit: impl FnOnce(&mut ConfigGroup, &mut ConfigGroup, &ConfigGroup),
) -> (ConfigGroup, ConfigGroup) {
    let root = config.channel_group.as_ref().unwrap();
    let mut read = shell(root);
    let mut write = shell(root);
    let mut current = root;
    let (mut r, mut w) = (&mut read, &mut write);
    for key in path {
        current = &current.groups[*key];
        r = r.groups.entry((*key).to_owned()).or_insert(shell(current));
        w = w.groups.entry((*key).to_owned()).or_insert(shell(current));
    }
    edit(r, w, current);
    (read, write)
}

/// An update setting the value `key` of the group at `path` to `value` (version
/// bumped, mod_policy kept).
fn value_update(config: &Config, path: &[&str], key: &str, value: Bytes) -> ConfigUpdate {
    let (read_set, write_set) = sets(config, path, |w, current| {
        let mut v = current.values[key].clone();
        v.version += 1;
        v.value = value;
        w.values.insert(key.to_owned(), v);
    });
    ConfigUpdate {
        channel_id: CHANNEL.into(),
        read_set: Some(read_set),
        write_set: Some(write_set),
        ..Default::default()
    }
}

/// A CONFIG_UPDATE envelope for `update`, signed by each of `signers` with a good
/// signature.
fn envelope(update: &ConfigUpdate, signers: &[&str]) -> Envelope {
    envelope_for(CHANNEL, update, signers)
}

fn envelope_for(channel_id: &str, update: &ConfigUpdate, signers: &[&str]) -> Envelope {
    let signatures = signers
        .iter()
        .map(|signer| ConfigSignature {
            signature_header: SignatureHeader {
                creator: Bytes::copy_from_slice(signer.as_bytes()),
                nonce: Bytes::from_static(b"nonce"),
            }
            .encode_to_vec()
            .into(),
            signature: Bytes::from_static(b"good"),
        })
        .collect();
    let data = ConfigUpdateEnvelope {
        config_update: update.encode_to_vec().into(),
        signatures,
    };
    let header = Header {
        channel_header: ChannelHeader {
            r#type: HeaderType::ConfigUpdate as i32,
            channel_id: channel_id.into(),
            ..Default::default()
        }
        .encode_to_vec()
        .into(),
        signature_header: Bytes::new(),
    };
    let payload = Payload {
        header: Some(header),
        data: data.encode_to_vec().into(),
    };
    Envelope {
        payload: payload.encode_to_vec().into(),
        signature: Bytes::new(),
    }
}

fn batch_size(max_message_count: u32) -> Bytes {
    crate::proto::orderer::BatchSize {
        max_message_count,
        absolute_max_bytes: 10 * 1024 * 1024,
        preferred_max_bytes: 2 * 1024 * 1024,
    }
    .encode_to_vec()
    .into()
}

fn value(bytes: Bytes, version: u64, mod_policy: &str) -> ConfigValue {
    ConfigValue {
        version,
        value: bytes,
        mod_policy: mod_policy.into(),
    }
}

/// Asserts the class and that the message contains every part.
#[track_caller]
fn assert_refused(err: UpdateError, class: UpdateErrorClass, parts: &[&str]) {
    assert_eq!(err.class(), class, "{err}");
    for part in parts {
        assert!(err.message().contains(part), "{part:?} missing in: {err}");
    }
    assert_eq!(err.to_string(), err.message());
}

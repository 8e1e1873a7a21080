//! What differs between two channel configurations, setting by setting, in words an
//! operator can act on.
//!
//! [`diff_configs`] walks both `Config` trees: every group (present, `mod_policy`,
//! `version`), every value and every policy. Values this orderer knows are decoded
//! and compared field by field, named as in `orderer.yaml` where they come from a
//! key there (`Orderer.Addresses`, `Orderer.BatchSize.MaxMessageCount`,
//! `Orderer.Kafka.Brokers`, ...) and by config path otherwise
//! (`/Channel/Application/Capabilities`); a value it does not know, or cannot decode,
//! is named by its path with a fingerprint of each side's bytes. Nothing is
//! validated: two configurations that no orderer would accept still compare.

use bytes::Bytes;
use prost::Message;
use sha2::{Digest, Sha256};

use super::{CAPABILITIES_KEY, CHANNEL_GROUP, ORDERER_GROUP, keys};
use crate::channel::ConfigDifference;
use crate::policies::Definition;
use crate::proto::common::{
    BlockDataHashingStructure, Capabilities, Config, ConfigGroup, ConfigPolicy, ConfigValue,
    Consortium, HashingAlgorithm, OrdererAddresses, Policy,
};
use crate::proto::msp::{FabricMspConfig, MspConfig};
use crate::proto::{orderer as ord, peer};

const ABSENT: &str = "absent";
const PRESENT: &str = "present";

/// Every setting on which `ours` and `theirs` differ, in tree order: for each
/// group its own settings, its values, its policies and the sub-groups only one
/// side has, then the sub-groups both have, each by key.
/// Empty when the two trees are equal, sequence included.
pub fn diff_configs(ours: &Config, theirs: &Config) -> Vec<ConfigDifference> {
    let mut out = Differences::default();
    out.cmp(
        "the config sequence",
        ours.sequence.to_string(),
        theirs.sequence.to_string(),
    );
    let root = format!("/{CHANNEL_GROUP}");
    match (&ours.channel_group, &theirs.channel_group) {
        (Some(a), Some(b)) => diff_groups(&root, a, b, &mut out),
        (a, b) => out.cmp(&root, presence(a), presence(b)),
    }
    out.0
}

#[derive(Default)]
struct Differences(Vec<ConfigDifference>);

impl Differences {
    fn cmp(&mut self, key: &str, ours: String, theirs: String) {
        if ours != theirs {
            self.0.push(ConfigDifference {
                key: key.to_owned(),
                ours,
                theirs,
            });
        }
    }

    /// The mod_policy and version every config element carries, as `(mod_policy,
    /// version)` on each side.
    fn header(&mut self, what: &str, ours: (&str, u64), theirs: (&str, u64)) {
        self.cmp(
            &format!("{what} mod_policy"),
            quoted(ours.0),
            quoted(theirs.0),
        );
        self.cmp(
            &format!("{what} version"),
            ours.1.to_string(),
            theirs.1.to_string(),
        );
    }
}

fn presence<T>(x: &Option<T>) -> String {
    if x.is_some() { PRESENT } else { ABSENT }.to_owned()
}

/// Walks the two groups at `root` with an explicit stack: a tree decoded from a
/// record may nest as deep as the decoder allows.
fn diff_groups(root: &str, ours: &ConfigGroup, theirs: &ConfigGroup, out: &mut Differences) {
    let mut stack = vec![(root.to_owned(), ours, theirs)];
    while let Some((path, a, b)) = stack.pop() {
        out.header(
            &path,
            (&a.mod_policy, a.version),
            (&b.mod_policy, b.version),
        );
        for key in union(a.values.keys(), b.values.keys()) {
            diff_value(&path, key, a.values.get(key), b.values.get(key), out);
        }
        for key in union(a.policies.keys(), b.policies.keys()) {
            diff_policy(&path, key, a.policies.get(key), b.policies.get(key), out);
        }
        let mut children = Vec::new();
        for key in union(a.groups.keys(), b.groups.keys()) {
            let child = format!("{path}/{key}");
            match (a.groups.get(key), b.groups.get(key)) {
                (Some(x), Some(y)) => children.push((child, x, y)),
                // One difference for the whole group, not one per member.
                (x, y) => out.cmp(&child, presence(&x), presence(&y)),
            }
        }
        // Popped in key order.
        stack.extend(children.into_iter().rev());
    }
}

/// The keys of two sorted maps, each once, in order.
fn union<'a>(
    a: impl Iterator<Item = &'a String>,
    b: impl Iterator<Item = &'a String>,
) -> Vec<&'a String> {
    let mut keys: Vec<&String> = a.chain(b).collect();
    keys.sort();
    keys.dedup();
    keys
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

/// `sha256:0123abcd (N bytes)`: enough to tell two blobs apart in a message.
fn fingerprint(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex} ({} bytes)", bytes.len())
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", items.into_iter().collect::<Vec<_>>().join(", "))
}

/// One readable field of a value: the name it is reported under, and its text.
struct Facet {
    key: String,
    text: String,
}

fn facet(key: impl Into<String>, text: impl Into<String>) -> Facet {
    Facet {
        key: key.into(),
        text: text.into(),
    }
}

fn diff_value(
    group: &str,
    key: &str,
    ours: Option<&ConfigValue>,
    theirs: Option<&ConfigValue>,
    out: &mut Differences,
) {
    let path = format!("{group}/{key}");
    let (a, b) = match (ours, theirs) {
        (Some(a), Some(b)) => (a, b),
        (a, b) => {
            let show = |v: Option<&ConfigValue>| {
                v.map_or_else(|| ABSENT.to_owned(), |v| summary(group, key, &v.value))
            };
            out.cmp(&value_name(group, key), show(a), show(b));
            return;
        }
    };
    out.header(
        &path,
        (&a.mod_policy, a.version),
        (&b.mod_policy, b.version),
    );
    if a.value == b.value {
        return;
    }
    let before = out.0.len();
    match (facets(group, key, &a.value), facets(group, key, &b.value)) {
        (Some(fa), Some(fb)) => {
            // Each facet name once, in the order the decoder gives them.
            let mut seen = std::collections::BTreeSet::new();
            let names: Vec<&String> = fa
                .iter()
                .chain(&fb)
                .map(|f| &f.key)
                .filter(|k| seen.insert(*k))
                .collect();
            let text = |fs: &[Facet], name: &str| {
                fs.iter()
                    .find(|f| f.key == name)
                    .map_or_else(|| ABSENT.to_owned(), |f| f.text.clone())
            };
            for name in names {
                out.cmp(name, text(&fa, name), text(&fb, name));
            }
        }
        // Not a value this orderer knows, or not decodable on one side.
        _ => out.cmp(&path, fingerprint(&a.value), fingerprint(&b.value)),
    }
    if out.0.len() == before {
        // Decoded alike, encoded differently (field order, unknown fields).
        out.cmp(
            &format!("{path} encoding"),
            fingerprint(&a.value),
            fingerprint(&b.value),
        );
    }
}

/// The name a value is reported under when it is absent on one side.
fn value_name(group: &str, key: &str) -> String {
    let orderer = format!("/{CHANNEL_GROUP}/{ORDERER_GROUP}");
    let yaml = if group == format!("/{CHANNEL_GROUP}") {
        match key {
            keys::ORDERER_ADDRESSES => Some("Orderer.Addresses"),
            _ => None,
        }
    } else if group == orderer {
        match key {
            keys::BATCH_SIZE => Some("Orderer.BatchSize"),
            keys::BATCH_TIMEOUT => Some("Orderer.BatchTimeout"),
            keys::CONSENSUS_TYPE => Some("Orderer.OrdererType"),
            keys::KAFKA_BROKERS => Some("Orderer.Kafka.Brokers"),
            _ => None,
        }
    } else {
        None
    };
    yaml.map_or_else(|| format!("{group}/{key}"), str::to_owned)
}

/// A value in one line: its facets, or its fingerprint when it is not known.
fn summary(group: &str, key: &str, bytes: &Bytes) -> String {
    match facets(group, key, bytes) {
        Some(fs) if fs.len() == 1 => fs.into_iter().map(|f| f.text).collect(),
        Some(fs) => fs
            .iter()
            .map(|f| {
                let name = f.key.rsplit(['.', ' ']).next().unwrap_or(&f.key);
                format!("{name} {}", f.text)
            })
            .collect::<Vec<_>>()
            .join(", "),
        None => fingerprint(bytes),
    }
}

/// The readable fields of the value `key` of `group`, or `None` when this orderer
/// does not know it or it does not decode.
fn facets(group: &str, key: &str, bytes: &Bytes) -> Option<Vec<Facet>> {
    let path = format!("{group}/{key}");
    let name = value_name(group, key);
    let b = bytes.clone();
    let single = |text: String| Some(vec![facet(name.clone(), text)]);
    match key {
        keys::ORDERER_ADDRESSES | keys::ENDPOINTS => {
            single(list(OrdererAddresses::decode(b).ok()?.addresses))
        }
        keys::KAFKA_BROKERS => single(list(ord::KafkaBrokers::decode(b).ok()?.brokers)),
        keys::BATCH_TIMEOUT => single(ord::BatchTimeout::decode(b).ok()?.timeout),
        keys::BATCH_SIZE => {
            let s = ord::BatchSize::decode(b).ok()?;
            Some(vec![
                facet(
                    format!("{name}.MaxMessageCount"),
                    s.max_message_count.to_string(),
                ),
                facet(
                    format!("{name}.AbsoluteMaxBytes"),
                    s.absolute_max_bytes.to_string(),
                ),
                facet(
                    format!("{name}.PreferredMaxBytes"),
                    s.preferred_max_bytes.to_string(),
                ),
            ])
        }
        keys::CONSENSUS_TYPE => {
            let c = ord::ConsensusType::decode(b).ok()?;
            let state = ord::consensus_type::State::try_from(c.state)
                .map_or_else(|_| c.state.to_string(), |s| s.as_str_name().to_owned());
            let metadata = if c.metadata.is_empty() {
                "empty".to_owned()
            } else {
                fingerprint(&c.metadata)
            };
            Some(vec![
                facet(name, c.r#type),
                facet(format!("{path} state"), state),
                facet(format!("{path} metadata"), metadata),
            ])
        }
        CAPABILITIES_KEY => single(list(Capabilities::decode(b).ok()?.capabilities.into_keys())),
        keys::HASHING_ALGORITHM => single(HashingAlgorithm::decode(b).ok()?.name),
        keys::BLOCK_DATA_HASHING_STRUCTURE => {
            single(BlockDataHashingStructure::decode(b).ok()?.width.to_string())
        }
        keys::CONSORTIUM => single(Consortium::decode(b).ok()?.name),
        keys::CHANNEL_RESTRICTIONS => single(
            ord::ChannelRestrictions::decode(b)
                .ok()?
                .max_count
                .to_string(),
        ),
        keys::ANCHOR_PEERS => single(list(
            peer::AnchorPeers::decode(b)
                .ok()?
                .anchor_peers
                .into_iter()
                .map(|p| format!("{}:{}", p.host, p.port)),
        )),
        keys::ACLS => {
            let acls = peer::AcLs::decode(b).ok()?.acls;
            Some(
                acls.into_iter()
                    .map(|(resource, r)| facet(format!("{path} {resource}"), r.policy_ref))
                    .collect(),
            )
        }
        keys::CHANNEL_CREATION_POLICY => single(policy_text(&path, &Policy::decode(b).ok()?)),
        keys::MSP => msp_facets(&path, b),
        _ => None,
    }
}

/// An MSP by its ID, then each part of its definition by fingerprint: two
/// organizations with one MSP ID and other certificates say which certificates.
fn msp_facets(path: &str, bytes: Bytes) -> Option<Vec<Facet>> {
    let msp = MspConfig::decode(bytes).ok()?;
    let kind = match msp.r#type {
        0 => String::new(),
        t => format!(" of type {t}"),
    };
    if msp.r#type != 0 {
        // Not a Fabric (X.509) MSP: its definition is opaque here.
        return Some(vec![
            facet(path, format!("an MSP{kind}")),
            facet(format!("{path} definition"), fingerprint(&msp.config)),
        ]);
    }
    let f = FabricMspConfig::decode(msp.config).ok()?;
    let certs = |list: &[Bytes]| {
        let mut all = Vec::new();
        for c in list {
            all.extend_from_slice(&(c.len() as u64).to_be_bytes());
            all.extend_from_slice(c);
        }
        format!("{} item(s), {}", list.len(), fingerprint(&all))
    };
    let ous = f
        .organizational_unit_identifiers
        .iter()
        .map(|o| o.encode_to_vec())
        .collect::<Vec<_>>()
        .concat();
    let field = |name: &str, text: String| facet(format!("{path} {name}"), text);
    Some(vec![
        facet(path, format!("MSP {}", f.name)),
        field("root_certs", certs(&f.root_certs)),
        field("intermediate_certs", certs(&f.intermediate_certs)),
        field("admins", certs(&f.admins)),
        field("revocation_list", certs(&f.revocation_list)),
        field("tls_root_certs", certs(&f.tls_root_certs)),
        field("tls_intermediate_certs", certs(&f.tls_intermediate_certs)),
        field(
            "signing_identity",
            f.signing_identity
                .as_ref()
                .map_or_else(|| ABSENT.to_owned(), |m| fingerprint(&m.encode_to_vec())),
        ),
        field(
            "organizational_unit_identifiers",
            format!(
                "{} item(s), {}",
                f.organizational_unit_identifiers.len(),
                fingerprint(&ous)
            ),
        ),
        field(
            "crypto_config",
            f.crypto_config.as_ref().map_or_else(
                || ABSENT.to_owned(),
                |c| {
                    format!(
                        "{}/{}",
                        c.signature_hash_family, c.identity_identifier_hash_function
                    )
                },
            ),
        ),
        field(
            "fabric_node_ous",
            f.fabric_node_ous.as_ref().map_or_else(
                || ABSENT.to_owned(),
                |n| {
                    let state = if n.enable { "enabled" } else { "disabled" };
                    format!("{state}, {}", fingerprint(&n.encode_to_vec()))
                },
            ),
        ),
    ])
}

fn diff_policy(
    group: &str,
    key: &str,
    ours: Option<&ConfigPolicy>,
    theirs: Option<&ConfigPolicy>,
    out: &mut Differences,
) {
    let path = format!("{group}/{key}");
    let show = |p: &ConfigPolicy| {
        p.policy
            .as_ref()
            .map_or_else(|| "no policy".to_owned(), |p| policy_text(&path, p))
    };
    let (a, b) = match (ours, theirs) {
        (Some(a), Some(b)) => (a, b),
        (a, b) => {
            let side = |p: Option<&ConfigPolicy>| p.map_or_else(|| ABSENT.to_owned(), show);
            out.cmp(&format!("policy {path}"), side(a), side(b));
            return;
        }
    };
    out.header(
        &format!("policy {path}"),
        (&a.mod_policy, a.version),
        (&b.mod_policy, b.version),
    );
    if a.policy == b.policy {
        return;
    }
    let (ta, tb) = (show(a), show(b));
    if ta == tb {
        let bytes = |p: &ConfigPolicy| p.policy.as_ref().map(Message::encode_to_vec);
        out.cmp(
            &format!("policy {path} encoding"),
            bytes(a).map_or_else(|| ABSENT.to_owned(), |b| fingerprint(&b)),
            bytes(b).map_or_else(|| ABSENT.to_owned(), |b| fingerprint(&b)),
        );
    } else {
        out.cmp(&format!("policy {path}"), ta, tb);
    }
}

/// A policy in Fabric's words (`ANY Writers`, `OR('Org1MSP.member')`), or its
/// type and fingerprint when it does not compile.
fn policy_text(path: &str, policy: &Policy) -> String {
    match Definition::decode(path.to_owned(), policy) {
        Ok(Definition::Signature(p)) => p.rule_text(),
        Ok(Definition::ImplicitMeta {
            rule, sub_policy, ..
        }) => format!("{} {sub_policy}", rule.as_str_name()),
        Err(_) => format!(
            "a policy of type {}, {}",
            policy.r#type,
            fingerprint(&policy.value)
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::genesis::{Consensus, Organization, Profile};
    use crate::proto::msp::FabricMspConfig;

    fn org(name: &str, msp_id: &str, root: &str) -> Organization {
        let msp = FabricMspConfig {
            name: msp_id.into(),
            root_certs: vec![Bytes::from(root.to_owned())],
            ..Default::default()
        };
        Organization::new(name, msp_id, msp.into())
    }

    fn profile(addresses: &[&str]) -> Profile {
        let mut p = Profile::new(
            "mychannel",
            Consensus::Kafka {
                brokers: vec!["127.0.0.1:9092".into()],
            },
            vec![org("OrdererOrg", "OrdererMSP", "root")],
            vec![org("Org1", "Org1MSP", "root1")],
        );
        p.orderer.addresses = addresses.iter().map(|a| (*a).to_owned()).collect();
        p
    }

    fn config(p: &Profile) -> Config {
        let block = p.generate().unwrap().block;
        crate::channelconfig::read_config_block(&block)
            .unwrap()
            .config
    }

    fn lines(d: &[ConfigDifference]) -> Vec<String> {
        d.iter()
            .map(|d| {
                format!(
                    "{} is {} here but {} on the channel",
                    d.key, d.ours, d.theirs
                )
            })
            .collect()
    }

    #[test]
    fn equal_configs_have_no_differences() {
        let c = config(&profile(&["127.0.0.1:7050"]));
        assert!(diff_configs(&c, &c).is_empty());
    }

    #[test]
    fn orderer_addresses_are_named_as_in_orderer_yaml_with_both_values() {
        let a = config(&profile(&["127.0.0.1:7050"]));
        let b = config(&profile(&["127.0.0.1:7051"]));
        assert_eq!(
            lines(&diff_configs(&a, &b)),
            ["Orderer.Addresses is [127.0.0.1:7050] here but [127.0.0.1:7051] on the channel"]
        );
        let none = config(&profile(&[]));
        assert_eq!(
            lines(&diff_configs(&a, &none)),
            ["Orderer.Addresses is [127.0.0.1:7050] here but absent on the channel"]
        );
    }

    #[test]
    fn batch_parameters_brokers_and_type_are_named_field_by_field() {
        let base = profile(&["o:7050"]);
        let mut other = base.clone();
        other.orderer.batch_size.max_message_count = 10;
        other.orderer.batch_timeout = std::time::Duration::from_millis(200);
        other.orderer.consensus = Consensus::Kafka {
            brokers: vec!["k1:9092".into(), "k2:9092".into()],
        };
        let got = lines(&diff_configs(&config(&base), &config(&other)));
        assert_eq!(
            got,
            [
                "Orderer.BatchSize.MaxMessageCount is 500 here but 10 on the channel",
                "Orderer.BatchTimeout is 2s here but 200ms on the channel",
                "Orderer.Kafka.Brokers is [127.0.0.1:9092] here but [k1:9092, k2:9092] on the channel",
            ]
        );
        let mut solo = base.clone();
        solo.orderer.consensus = Consensus::Solo;
        let got = lines(&diff_configs(&config(&base), &config(&solo)));
        assert!(
            got.contains(&"Orderer.OrdererType is kafka here but solo on the channel".to_owned()),
            "{got:?}"
        );
        assert!(
            got.contains(
                &"Orderer.Kafka.Brokers is [127.0.0.1:9092] here but absent on the channel"
                    .to_owned()
            ),
            "{got:?}"
        );
    }

    #[test]
    fn organizations_msps_capabilities_and_policies_are_named_by_path() {
        let base = profile(&["o:7050"]);
        let mut other = base.clone();
        let app = other.application.as_mut().unwrap();
        app.organizations.push(org("Org2", "Org2MSP", "root2"));
        app.organizations[0] = org("Org1", "Org1MSP", "another root");
        app.capabilities = ["V2_5".to_owned()].into();
        let got = lines(&diff_configs(&config(&base), &config(&other)));
        let want_prefixes = [
            "/Channel/Application/Capabilities is [V2_0] here but [V2_5] on the channel",
            "/Channel/Application/Org1/MSP root_certs is 1 item(s), sha256:",
            "/Channel/Application/Org2 is absent here but present on the channel",
        ];
        for want in want_prefixes {
            assert!(got.iter().any(|l| l.starts_with(want)), "{want}\n{got:#?}");
        }
        // The MSP IDs agree: only the certificates are named.
        assert!(
            !got.iter()
                .any(|l| l.starts_with("/Channel/Application/Org1/MSP is")),
            "{got:#?}"
        );
        // Every version of a genesis configuration is 0: none is reported.
        assert!(!got.iter().any(|l| l.contains(" version ")), "{got:#?}");

        let mut renamed = base.clone();
        renamed.application.as_mut().unwrap().organizations[0] = org("Org1", "OtherMSP", "root1");
        let got = lines(&diff_configs(&config(&base), &config(&renamed)));
        assert!(
            got.iter().any(|l| l
                == "/Channel/Application/Org1/MSP is MSP Org1MSP here but MSP OtherMSP on the channel"),
            "{got:#?}"
        );
        // The org's signature policies name its MSP: they differ too, in Fabric's words.
        assert!(
            got.iter()
                .any(|l| l.starts_with("policy /Channel/Application/Org1/")
                    && l.contains("'Org1MSP.")
                    && l.contains("'OtherMSP.")),
            "{got:#?}"
        );
    }

    #[test]
    fn unknown_values_mod_policies_and_sequences_are_named_by_path() {
        let a = config(&profile(&["o:7050"]));
        let mut b = a.clone();
        b.sequence = 3;
        let channel = b.channel_group.as_mut().unwrap();
        channel.mod_policy = "Writers".into();
        channel.values.insert(
            "Custom".into(),
            ConfigValue {
                version: 0,
                value: Bytes::from_static(b"xyz"),
                mod_policy: "Admins".into(),
            },
        );
        let mut c = b.clone();
        let got = lines(&diff_configs(&a, &b));
        assert_eq!(
            got[..2],
            [
                "the config sequence is 0 here but 3 on the channel",
                "/Channel mod_policy is \"Admins\" here but \"Writers\" on the channel",
            ]
        );
        assert!(
            got[2].starts_with("/Channel/Custom is absent here but sha256:"),
            "{got:#?}"
        );
        c.channel_group
            .as_mut()
            .unwrap()
            .values
            .get_mut("Custom")
            .unwrap()
            .value = Bytes::from_static(b"abc");
        let got = lines(&diff_configs(&b, &c));
        assert_eq!(got.len(), 1, "{got:#?}");
        assert!(
            got[0].starts_with("/Channel/Custom is sha256:") && got[0].contains("(3 bytes)"),
            "{got:#?}"
        );
    }
}

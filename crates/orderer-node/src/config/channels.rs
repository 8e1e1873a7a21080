//! `Organizations` and `Channels`: who may use this node's channels, and which
//! channels it serves with which batch rules (the input of the genesis config this
//! node makes when it is not booted from a configtxgen block).

use std::collections::BTreeSet;
use std::fmt;

use orderer_api::ChannelConfig;
use orderer_api::config::{
    BatchSizeSection, ByteSize, GoDuration, KeyDoc, OrdererSection, Problem, Problems,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An organization whose members may write to or read from channels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Organization {
    pub name: String,
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "MSPDir")]
    pub msp_dir: String,
}

/// A channel: a name, optionally with its own batch rules, Writers and Readers.
///
/// In YAML either `- mychannel` or `- {Name: fast, BatchTimeout: 200ms}`; an entry
/// with nothing but a name is written back as the bare name.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ChannelEntry {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_timeout: Option<GoDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<BatchSizeOverride>,
    /// Organizations (by Name) whose members may broadcast; default: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writers: Option<Vec<String>>,
    /// Organizations (by Name) whose members may deliver; default: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readers: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BatchSizeOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_message_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absolute_max_bytes: Option<ByteSize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_max_bytes: Option<ByteSize>,
}

impl Serialize for ChannelEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Full<'a> {
            name: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            batch_timeout: &'a Option<GoDuration>,
            #[serde(skip_serializing_if = "Option::is_none")]
            batch_size: &'a Option<BatchSizeOverride>,
            #[serde(skip_serializing_if = "Option::is_none")]
            writers: &'a Option<Vec<String>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            readers: &'a Option<Vec<String>>,
        }
        if *self == ChannelEntry::named(&self.name) {
            return s.serialize_str(&self.name);
        }
        Full {
            name: &self.name,
            batch_timeout: &self.batch_timeout,
            batch_size: &self.batch_size,
            writers: &self.writers,
            readers: &self.readers,
        }
        .serialize(s)
    }
}

impl ChannelEntry {
    pub fn named(name: &str) -> ChannelEntry {
        ChannelEntry {
            name: name.to_owned(),
            batch_timeout: None,
            batch_size: None,
            writers: None,
            readers: None,
        }
    }

    /// An entry with every key set, so the schema of known keys includes them.
    pub(crate) fn schema_example() -> ChannelEntry {
        ChannelEntry {
            batch_timeout: Some(GoDuration::default()),
            batch_size: Some(BatchSizeOverride {
                max_message_count: Some(0),
                absolute_max_bytes: Some(ByteSize(0)),
                preferred_max_bytes: Some(ByteSize(0)),
            }),
            writers: Some(Vec::new()),
            readers: Some(Vec::new()),
            ..ChannelEntry::named("")
        }
    }

    /// The entry's ordering parameters: the `Orderer` defaults with its overrides.
    pub fn channel_config(&self, defaults: &OrdererSection) -> Result<ChannelConfig, Problem> {
        let mut batch: BatchSizeSection = defaults.batch_size.clone();
        if let Some(o) = &self.batch_size {
            if let Some(n) = o.max_message_count {
                batch.max_message_count = n;
            }
            if let Some(s) = o.absolute_max_bytes {
                batch.absolute_max_bytes = s;
            }
            if let Some(s) = o.preferred_max_bytes {
                batch.preferred_max_bytes = s;
            }
        }
        Ok(ChannelConfig {
            channel_id: self.name.clone(),
            consensus_type: defaults.orderer_type,
            batch_size: batch.to_batch_size("BatchSize")?,
            batch_timeout: self.batch_timeout.unwrap_or(defaults.batch_timeout).0,
        })
    }
}

/// A channel entry is a bare name or a map.
fn channel_entry<'de, D: Deserializer<'de>>(d: D) -> Result<ChannelEntry, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = ChannelEntry;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a channel name, or a map with Name and optional BatchTimeout/BatchSize")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ChannelEntry, E> {
            Ok(ChannelEntry::named(v))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ChannelEntry, A::Error> {
            ChannelEntry::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(Visitor)
}

/// The `Channels` list, whose entries may be bare names.
pub(crate) fn channel_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ChannelEntry>, D::Error> {
    #[derive(Deserialize)]
    struct Entry(#[serde(deserialize_with = "channel_entry")] ChannelEntry);
    let entries: Option<Vec<Entry>> = Option::deserialize(d)?;
    Ok(entries.into_iter().flatten().map(|e| e.0).collect())
}

pub(crate) const KEYS: &[KeyDoc] = &[
    KeyDoc::path(
        "Organizations",
        "Organizations whose members may broadcast and deliver: `{Name, ID (MSP ID), MSPDir}` each. Empty: this node's own organization (`General.LocalMSPID` with the CAs of `General.LocalMSPDir`).",
    ),
    KeyDoc::new(
        "Channels",
        "Channels served, e.g. `[mychannel, other]`. An entry may be a map `{Name, BatchTimeout, BatchSize: {...}, Writers: [...], Readers: [...]}` overriding the `Orderer` values and naming the organizations that may broadcast (Writers) and deliver (Readers), written into the channel's `Application` policies; both default to all organizations. As in Fabric, members of the ordering organization (this node's) also satisfy `/Channel/Writers` and `/Channel/Readers`. Names: lowercase letters, digits, `.` and `-`.",
    ),
];

/// Checks organizations, channel names and each channel's batch rules and policies.
pub(crate) fn validate(
    orgs: &[Organization],
    channels: &[ChannelEntry],
    defaults: &OrdererSection,
    local_msp_id: &str,
    participation: bool,
    p: &mut Problems,
) {
    let mut names = BTreeSet::new();
    for (i, org) in orgs.iter().enumerate() {
        let key = format!("Organizations[{i}]");
        if org.name.trim().is_empty() || org.id.trim().is_empty() || org.msp_dir.trim().is_empty() {
            p.bad(
                &key,
                format!("{:?}", org.name),
                "expected Name, ID (the MSP ID) and MSPDir",
            );
        }
        if !names.insert(org.name.clone()) {
            p.bad(&key, format!("{:?}", org.name), "organization listed twice");
        }
    }
    if orgs.is_empty() {
        // The node's own organization stands in (see Config::organizations).
        names.insert(local_msp_id.to_owned());
    }
    // With the participation API a node may start with no channel and join them.
    if channels.is_empty() && !participation {
        p.bad(
            "Channels",
            "[]",
            "expected at least one channel, like Channels: [mychannel], or ChannelParticipation.Enabled: true to join channels at run time",
        );
    }
    let mut seen = BTreeSet::new();
    for (i, ch) in channels.iter().enumerate() {
        let key = format!("Channels[{i}]");
        // Fabric's rule; the name also names the channel's Kafka topic and ledger.
        if let Err(e) = orderer_api::channelconfig::check_channel_id(&ch.name) {
            p.bad(&key, format!("{:?}", ch.name), e.to_string());
        }
        if !seen.insert(ch.name.clone()) {
            p.bad(&key, format!("{:?}", ch.name), "channel listed twice");
        }
        if ch.batch_size.is_some() || ch.batch_timeout.is_some() {
            match ch.channel_config(defaults) {
                Ok(cfg) => {
                    if let Err(e) = cfg.batch_size.validate() {
                        p.about(
                            format!("{key}.BatchSize.{} ({})", e.field, ch.name),
                            e.reason,
                        );
                    }
                    if cfg.batch_timeout.is_zero() {
                        p.bad(
                            format!("{key}.BatchTimeout"),
                            "0s",
                            "expected a positive duration like 2s",
                        );
                    }
                }
                Err(e) => p.problems.push(Problem {
                    key: format!("{key}.{}", e.key),
                    ..e
                }),
            }
        }
        for (what, list) in [("Writers", &ch.writers), ("Readers", &ch.readers)] {
            for name in list.iter().flatten() {
                if !names.contains(name) {
                    p.bad(
                        format!("{key}.{what}"),
                        format!("{name:?}"),
                        format!(
                            "expected an organization Name; Organizations has: {}",
                            names.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
            }
        }
    }
}

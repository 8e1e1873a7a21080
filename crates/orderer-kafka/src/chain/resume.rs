//! Where a chain resumes: the consenter metadata of its last block.

use bytes::Bytes;
use orderer_api::ConsenterError;
use orderer_api::proto::common::Metadata;
use orderer_api::proto::orderer::KafkaMetadata;
use prost::Message;
use rdkafka::topic_partition_list::Offset;

/// Where a chain resumes, from the last block's consenter metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resume {
    /// The offset of the last record the ledger reflects; `None` for a channel
    /// whose ledger holds only its genesis block.
    pub last_offset_persisted: Option<i64>,
    /// The highest `original_offset` of a resubmitted record already ordered: a
    /// copy of it read later (every OSN resubmits) is dropped.
    pub last_original_offset_processed: i64,
    /// The original offset of the last config record resubmitted; while it is ahead
    /// of `last_original_offset_processed`, ingress waits for it to be ordered.
    pub last_resubmitted_config_offset: i64,
    /// The duplicate window the last block was written with (0: off, or written
    /// by an orderer without one).
    pub dedupe_window: u64,
}

impl Resume {
    /// Reads `KafkaMetadata`; empty metadata means a new channel. The bytes may
    /// still be wrapped in the `common.Metadata` message Fabric 2.x stores them in
    /// (the node unwraps them, but a caller handing the stored field is understood).
    pub fn from_metadata(channel: &str, metadata: &Bytes) -> Result<Resume, ConsenterError> {
        if metadata.is_empty() {
            return Ok(Resume::default());
        }
        let m = KafkaMetadata::decode(metadata.clone())
            .or_else(|e| {
                // A wrapped KafkaMetadata never decodes bare (field 1 is a varint in
                // KafkaMetadata, length-delimited in Metadata), so try it unwrapped.
                Metadata::decode(metadata.clone())
                    .ok()
                    .and_then(|w| KafkaMetadata::decode(w.value).ok())
                    .ok_or(e)
            })
            .map_err(|e| ConsenterError::BadMetadata {
                channel: channel.to_owned(),
                reason: format!("not an orderer.KafkaMetadata: {e}"),
            })?;
        Ok(Resume {
            last_offset_persisted: Some(m.last_offset_persisted),
            last_original_offset_processed: m.last_original_offset_processed,
            last_resubmitted_config_offset: m.last_resubmitted_config_offset,
            dedupe_window: m.dedupe_window,
        })
    }

    /// Whether a resubmitted config record was still in flight when the last block
    /// was written (Fabric's rule: neither none was resubmitted nor it was processed).
    pub(super) fn config_in_flight(&self) -> bool {
        self.last_resubmitted_config_offset != 0
            && self.last_resubmitted_config_offset > self.last_original_offset_processed
    }

    pub(super) fn start_offset(&self) -> Offset {
        match self.last_offset_persisted {
            Some(o) => Offset::Offset(o + 1),
            None => Offset::Beginning,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn offsets() -> KafkaMetadata {
        KafkaMetadata {
            last_offset_persisted: 12,
            last_original_offset_processed: 9,
            last_resubmitted_config_offset: 9,
            dedupe_window: 0,
        }
    }

    fn expected() -> Resume {
        Resume {
            last_offset_persisted: Some(12),
            last_original_offset_processed: 9,
            last_resubmitted_config_offset: 9,
            dedupe_window: 0,
        }
    }

    #[test]
    fn resume_reads_bare_kafka_metadata_as_earlier_versions_stored_it() {
        let bare = Bytes::from(offsets().encode_to_vec());
        assert_eq!(Resume::from_metadata("ch", &bare).unwrap(), expected());
    }

    #[test]
    fn resume_reads_kafka_metadata_wrapped_as_fabric_stores_it() {
        let wrapped = Metadata {
            value: offsets().encode_to_vec().into(),
            signatures: Vec::new(),
        };
        let bytes = Bytes::from(wrapped.encode_to_vec());
        assert_eq!(Resume::from_metadata("ch", &bytes).unwrap(), expected());
    }

    #[test]
    fn resume_reads_the_dedupe_window_the_last_block_was_written_with() {
        let m = KafkaMetadata {
            dedupe_window: 1000,
            ..offsets()
        };
        let r = Resume::from_metadata("ch", &Bytes::from(m.encode_to_vec())).unwrap();
        assert_eq!(r.dedupe_window, 1000);
    }

    #[test]
    fn resume_refuses_metadata_that_is_no_kafka_metadata_and_names_the_channel() {
        let err = Resume::from_metadata("ch1", &Bytes::from_static(b"\x0a\x05ab")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("ch1") && text.contains("KafkaMetadata"),
            "{text}"
        );
    }

    #[test]
    fn a_new_channel_resumes_from_the_oldest_offset() {
        let r = Resume::from_metadata("ch", &Bytes::new()).unwrap();
        assert_eq!(r, Resume::default());
        assert_eq!(r.start_offset(), Offset::Beginning);
    }
}

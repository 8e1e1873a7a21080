//! A chain's writing side: records to the channel's partition through the node's
//! shared producer, with the answers kept in the chain's health.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use orderer_api::ChainError;
use orderer_api::proto::orderer::{KafkaMessage, kafka_message};
use prost::Message;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::oneshot;

use super::health::Health;
use crate::clients::{Acknowledged, Clients, TopicProducer};
use crate::errors::produce_error;
use crate::options::BATCH_BYTES;

/// The record header carrying a Broadcast's W3C trace context.
pub(super) const TRACEPARENT: &str = "traceparent";

/// The key of every record, as Fabric's producer writes it: the partition number
/// in decimal. Consumers ignore it; it is kept so that records are Fabric's byte for
/// byte.
const RECORD_KEY: &str = "0";

/// How long a looked-up replica state explains write refusals before it is read again.
const REPLICAS_FRESH: Duration = Duration::from_secs(2);

/// The brokers' answer on one record.
pub(super) type Delivery = oneshot::Receiver<Acknowledged>;

/// Produces one channel's records. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Producer {
    channel_id: Arc<str>,
    clients: Arc<Clients>,
    /// The channel's records, handed to the node's producer one batch at a time.
    topic: Arc<TopicProducer>,
    health: Arc<Health>,
    /// The partition's replicas as last read for a refusal, and when: a burst of
    /// refused records reads the metadata once.
    replicas: Arc<Mutex<Option<(Instant, String)>>>,
}

impl Producer {
    pub(super) fn new(channel_id: &str, clients: Arc<Clients>, health: Arc<Health>) -> Self {
        Producer {
            channel_id: channel_id.into(),
            topic: Arc::new(TopicProducer::new(
                clients.producer.clone(),
                channel_id.to_owned(),
                RECORD_KEY.as_bytes().to_vec(),
                BATCH_BYTES,
            )),
            clients,
            health,
            replicas: Arc::default(),
        }
    }

    /// Hands a record to the channel's producer (waiting while its queue is full).
    /// A trace context travels in the record's `traceparent` header.
    pub(super) async fn send(
        &self,
        payload: Vec<u8>,
        traceparent: Option<&Bytes>,
    ) -> Result<Delivery, ChainError> {
        let headers = traceparent.map(|tp| {
            OwnedHeaders::new().insert(Header {
                key: TRACEPARENT,
                value: Some(tp.as_ref()),
            })
        });
        self.topic
            .send(payload, headers)
            .await
            .map_err(|e| produce_error(&self.channel_id, &e))
    }

    /// Waits for the brokers' answer on one record, keeping the write health current.
    pub(super) async fn delivered(&self, delivery: Delivery) -> Result<(), ChainError> {
        match delivery.await {
            Ok(Ok(_)) => {
                self.clients.mark_reachable();
                if self.health.writes_failing() {
                    self.health.set_writes(None);
                }
                Ok(())
            }
            Ok(Err(e)) => {
                let mut err = produce_error(&self.channel_id, &e);
                if let (ChainError::Backend { reason, .. }, Some(replicas)) =
                    (&mut err, self.replicas_behind(&e).await)
                {
                    reason.push_str(&format!("; partition {}/0: {replicas}", self.channel_id));
                }
                if !matches!(err, ChainError::TooLarge { .. }) {
                    self.health
                        .set_writes(Some(format!("Kafka refuses writes: {err}")));
                }
                Err(err)
            }
            Err(_) => Err(ChainError::Backend {
                channel: self.channel_id.to_string(),
                reason: "the Kafka producer shut down before the brokers answered".into(),
            }),
        }
    }

    /// For a refusal for want of in-sync replicas, or a record the brokers never
    /// acknowledged (librdkafka retries NOT_ENOUGH_REPLICAS until the record times
    /// out), which replicas the partition has and which are in sync (read at most
    /// every [`REPLICAS_FRESH`]).
    async fn replicas_behind(&self, e: &KafkaError) -> Option<String> {
        use RDKafkaErrorCode as C;
        if !matches!(
            e.rdkafka_error_code(),
            Some(C::NotEnoughReplicas | C::NotEnoughReplicasAfterAppend | C::MessageTimedOut)
        ) {
            return None;
        }
        let cached = |slot: &Option<(Instant, String)>| {
            slot.as_ref()
                .filter(|(at, _)| at.elapsed() < REPLICAS_FRESH)
                .map(|(_, s)| s.clone())
        };
        if let Some(s) = cached(&self.replicas.lock().unwrap_or_else(|p| p.into_inner())) {
            return Some(s);
        }
        let state = match self.clients.replica_state(&self.channel_id).await {
            Ok(Some(state)) => state.to_string(),
            Ok(None) => "not in the brokers' metadata".to_owned(),
            Err(e) => format!("replicas unknown ({e})"),
        };
        *self.replicas.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), state.clone()));
        Some(state)
    }

    /// Produces a record and waits for the brokers' acknowledgement.
    pub(super) async fn post(&self, msg: kafka_message::Type) -> Result<(), ChainError> {
        self.post_traced(msg, None).await
    }

    pub(super) async fn post_traced(
        &self,
        msg: kafka_message::Type,
        traceparent: Option<&Bytes>,
    ) -> Result<(), ChainError> {
        let record = KafkaMessage { r#type: Some(msg) };
        let delivery = self.send(record.encode_to_vec(), traceparent).await?;
        self.delivered(delivery).await
    }
}

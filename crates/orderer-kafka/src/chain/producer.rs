//! A chain's writing side: records to the channel's partition through the node's
//! shared producer, with the answers kept in the chain's health.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use orderer_api::ChainError;
use orderer_api::proto::orderer::{KafkaMessage, kafka_message};
use prost::Message;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureRecord};
use tokio::time::{Instant, sleep};

use super::health::Health;
use crate::clients::{Clients, PARTITION};
use crate::errors::produce_error;

/// The record header carrying a Broadcast's W3C trace context.
pub(super) const TRACEPARENT: &str = "traceparent";

/// The key of every record, as Fabric's producer writes it: the partition number
/// in decimal. Consumers ignore it; it is kept so that records are Fabric's byte for
/// byte.
const RECORD_KEY: &str = "0";

/// How long `send` keeps retrying while librdkafka's queue is full.
const QUEUE_FULL_PATIENCE: Duration = Duration::from_secs(10);

/// Produces one channel's records. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Producer {
    channel_id: Arc<str>,
    clients: Arc<Clients>,
    health: Arc<Health>,
}

impl Producer {
    pub(super) fn new(channel_id: &str, clients: Arc<Clients>, health: Arc<Health>) -> Self {
        Producer {
            channel_id: channel_id.into(),
            clients,
            health,
        }
    }

    /// Hands a record to the producer, waiting while its queue is full. A trace
    /// context travels in the record's `traceparent` header.
    pub(super) async fn send(
        &self,
        payload: Vec<u8>,
        traceparent: Option<&Bytes>,
    ) -> Result<DeliveryFuture, ChainError> {
        let deadline = Instant::now() + QUEUE_FULL_PATIENCE;
        loop {
            let mut record = FutureRecord::<str, [u8]>::to(&self.channel_id)
                .partition(PARTITION)
                .key(RECORD_KEY)
                .payload(&payload);
            if let Some(tp) = traceparent {
                record = record.headers(OwnedHeaders::new().insert(Header {
                    key: TRACEPARENT,
                    value: Some(tp.as_ref()),
                }));
            }
            match self.clients.producer.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _))
                    if Instant::now() < deadline =>
                {
                    sleep(Duration::from_millis(2)).await;
                }
                Err((e, _)) => return Err(produce_error(&self.channel_id, &e)),
            }
        }
    }

    /// Waits for the brokers' answer on one record, keeping the write health current.
    pub(super) async fn delivered(&self, delivery: DeliveryFuture) -> Result<(), ChainError> {
        match delivery.await {
            Ok(Ok(_)) => {
                self.clients.mark_reachable();
                if self.health.writes_failing() {
                    self.health.set_writes(None);
                }
                Ok(())
            }
            Ok(Err((e, _))) => {
                let err = produce_error(&self.channel_id, &e);
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

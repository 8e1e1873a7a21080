//! The gRPC server: `orderer.AtomicBroadcast`.

pub mod codec;

#[allow(
    clippy::all,
    unreachable_pub,
    missing_debug_implementations,
    rust_2018_idioms
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/orderer.AtomicBroadcast.rs"));
}

use std::sync::Arc;

use bytes::Bytes;
pub use generated::atomic_broadcast_server::{AtomicBroadcast, AtomicBroadcastServer};
use tonic::{Request, Response, Status, Streaming};

use crate::broadcast::{BroadcastHandler, BroadcastStream};
use crate::deliver::{DeliverHandler, DeliverStream};

/// The AtomicBroadcast service: Broadcast and Deliver over one registry.
#[derive(Debug, Clone)]
pub struct Service {
    broadcast: Arc<BroadcastHandler>,
    deliver: Arc<DeliverHandler>,
}

impl Service {
    pub fn new(broadcast: Arc<BroadcastHandler>, deliver: Arc<DeliverHandler>) -> Self {
        Service { broadcast, deliver }
    }
}

#[tonic::async_trait]
impl AtomicBroadcast for Service {
    type BroadcastStream = BroadcastStream;
    type DeliverStream = DeliverStream;

    async fn broadcast(
        &self,
        request: Request<Streaming<Bytes>>,
    ) -> Result<Response<BroadcastStream>, Status> {
        Ok(Response::new(self.broadcast.handle(request.into_inner())))
    }

    async fn deliver(
        &self,
        request: Request<Streaming<Bytes>>,
    ) -> Result<Response<DeliverStream>, Status> {
        Ok(Response::new(self.deliver.handle(request.into_inner())))
    }
}

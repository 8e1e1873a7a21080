//! The gRPC server: `orderer.AtomicBroadcast`.

pub mod codec;
mod fanout;

#[allow(
    clippy::all,
    unreachable_pub,
    missing_debug_implementations,
    rust_2018_idioms
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/orderer.AtomicBroadcast.rs"));
}

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
pub use fanout::AtomicBroadcastRoutes;
use futures_util::Stream;
pub use generated::atomic_broadcast_server::{AtomicBroadcast, AtomicBroadcastServer};
use tonic::{Request, Response, Status, Streaming};

use crate::broadcast::{BroadcastHandler, BroadcastStream};
use crate::deliver::{DeliverHandler, DeliverStream};
use crate::metrics;
use crate::security::ClientTls;

/// The AtomicBroadcast service: Broadcast and Deliver over one registry.
#[derive(Debug, Clone)]
pub struct Service {
    broadcast: Arc<BroadcastHandler>,
    deliver: Arc<DeliverHandler>,
    broadcast_trace: Option<Arc<TraceDir>>,
    deliver_trace: Option<Arc<TraceDir>>,
}

impl Service {
    pub fn new(broadcast: Arc<BroadcastHandler>, deliver: Arc<DeliverHandler>) -> Self {
        Service {
            broadcast,
            deliver,
            broadcast_trace: None,
            deliver_trace: None,
        }
    }

    /// Writes every request received to files in these directories (Fabric's
    /// `Debug.BroadcastTraceDir` and `Debug.DeliverTraceDir`); empty: none.
    pub fn with_trace_dirs(mut self, broadcast: &str, deliver: &str) -> Self {
        self.broadcast_trace = TraceDir::new(broadcast, "broadcast");
        self.deliver_trace = TraceDir::new(deliver, "deliver");
        self
    }
}

/// A directory that receives a copy of each request, as Fabric's orderer writes them:
/// the marshalled envelope in `<unix nanos>_<n>.<method>`.
#[derive(Debug)]
pub struct TraceDir {
    dir: PathBuf,
    suffix: &'static str,
    next: AtomicU64,
}

impl TraceDir {
    fn new(dir: &str, suffix: &'static str) -> Option<Arc<TraceDir>> {
        (!dir.is_empty()).then(|| {
            Arc::new(TraceDir {
                dir: PathBuf::from(dir),
                suffix,
                next: AtomicU64::new(0),
            })
        })
    }

    /// Writes `request` off the request path; a failure is logged at debug level, as
    /// in Fabric: tracing never fails a request.
    fn write(&self, request: &Bytes) {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("{nanos}_{n}.{}", self.suffix));
        let request = request.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = std::fs::write(&path, &request) {
                tracing::debug!(path = %path.display(), error = %e, "writing a request trace failed");
            }
        });
    }
}

#[tonic::async_trait]
impl AtomicBroadcast for Service {
    type BroadcastStream = Metered<BroadcastStream>;
    type DeliverStream = Metered<DeliverStream>;

    async fn broadcast(
        &self,
        request: Request<Streaming<Bytes>>,
    ) -> Result<Response<Self::BroadcastStream>, Status> {
        const METHOD: &str = "Broadcast";
        metrics::grpc_stream_received(METHOD);
        let client = client_tls(&request);
        let requests = Counted::new(request.into_inner(), METHOD, self.broadcast_trace.clone());
        Ok(Response::new(Metered::new(
            self.broadcast.handle(requests, client),
            METHOD,
        )))
    }

    async fn deliver(
        &self,
        request: Request<Streaming<Bytes>>,
    ) -> Result<Response<Self::DeliverStream>, Status> {
        const METHOD: &str = "Deliver";
        metrics::grpc_stream_received(METHOD);
        let client = client_tls(&request);
        let requests = Counted::new(request.into_inner(), METHOD, self.deliver_trace.clone());
        Ok(Response::new(Metered::new(
            self.deliver.handle(requests, client),
            METHOD,
        )))
    }
}

/// What TLS says of the caller: the SHA-256 of its certificate, for Fabric's
/// `tls_cert_hash` binding.
fn client_tls<T>(request: &Request<T>) -> ClientTls {
    let cert_hash = request.peer_certs().and_then(|certs| {
        certs.first().map(|leaf| {
            let digest = ring::digest::digest(&ring::digest::SHA256, leaf.as_ref());
            let mut hash = [0u8; 32];
            hash.copy_from_slice(digest.as_ref());
            hash
        })
    });
    ClientTls { cert_hash }
}

/// A request stream that counts the messages received (and traces them, if asked).
#[derive(Debug)]
pub struct Counted<S> {
    inner: S,
    method: &'static str,
    trace: Option<Arc<TraceDir>>,
}

impl<S> Counted<S> {
    fn new(inner: S, method: &'static str, trace: Option<Arc<TraceDir>>) -> Self {
        Counted {
            inner,
            method,
            trace,
        }
    }
}

impl<S> Stream for Counted<S>
where
    S: Stream<Item = Result<Bytes, Status>> + Unpin,
{
    type Item = Result<Bytes, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(request))) = &polled {
            metrics::grpc_message_received(self.method);
            if let Some(trace) = &self.trace {
                trace.write(request);
            }
        }
        polled
    }
}

/// A response stream that counts the messages sent and records how the call ended:
/// its final status, or Canceled when the client went away first.
pub struct Metered<S> {
    inner: S,
    method: &'static str,
    started: Instant,
    done: bool,
}

impl<S> Metered<S> {
    fn new(inner: S, method: &'static str) -> Self {
        Metered {
            inner,
            method,
            started: Instant::now(),
            done: false,
        }
    }

    fn complete(&mut self, code: tonic::Code) {
        if !self.done {
            self.done = true;
            metrics::grpc_stream_completed(self.method, code, self.started.elapsed());
        }
    }
}

impl<S, T> Stream for Metered<S>
where
    S: Stream<Item = Result<T, Status>> + Unpin,
{
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(_))) => metrics::grpc_message_sent(self.method),
            Poll::Ready(Some(Err(status))) => {
                let code = status.code();
                self.complete(code);
            }
            Poll::Ready(None) => self.complete(tonic::Code::Ok),
            Poll::Pending => {}
        }
        polled
    }
}

impl<S> Drop for Metered<S> {
    fn drop(&mut self) {
        self.complete(tonic::Code::Cancelled);
    }
}

impl<S> std::fmt::Debug for Metered<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metered")
            .field("method", &self.method)
            .finish()
    }
}

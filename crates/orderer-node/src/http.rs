//! The HTTP/1.1 listeners of the node (operations, Admin): accept, TLS handshake
//! with a bound, one hyper connection per client, stop on shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use crate::shutdown::Shutdown;
use crate::tls::{HANDSHAKE_TIMEOUT, Material};

/// How long a client may take to send a request's headers (Fabric's HTTP servers
/// have a 10 s read timeout).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What a listener is, for its errors and logs.
#[derive(Debug, Clone, Copy)]
pub struct Listener {
    /// The configuration key of its address, e.g. `Operations.ListenAddress`.
    pub key: &'static str,
    /// Its name in logs, e.g. `operations`.
    pub name: &'static str,
}

/// Binds `addr` and serves each request with `handler` until `shutdown`; returns the
/// bound address (useful with port 0).
///
/// The handler's second argument says whether the client is authenticated: with
/// TLS that requires client certificates, whether it presented one (the verifier has
/// checked it against the client root CAs); otherwise always true.
pub async fn serve<H, F>(
    what: Listener,
    addr: &str,
    tls: Option<&Material>,
    mut shutdown: Shutdown,
    handler: H,
) -> anyhow::Result<SocketAddr>
where
    H: Fn(Request<Incoming>, bool) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let key = what.key;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("{key} {addr}: cannot listen: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| anyhow::anyhow!("{key} {addr}: no local address: {e}"))?;
    let tls = tls.map(|m| {
        (
            tokio_rustls::TlsAcceptor::from(m.with_alpn(&[b"http/1.1"])),
            m.client_auth_required,
        )
    });
    let handler = Arc::new(handler);
    let name = what.name;
    let with_tls = tls.is_some();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = shutdown.wait() => return,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    warn!(error = %e, "{name} server: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            // Responses are written as separate header and body segments: without
            // TCP_NODELAY the body may wait for the client's delayed ACK (~40 ms),
            // which a scraper or osnadmin would see on every request.
            if let Err(e) = stream.set_nodelay(true) {
                debug!(%peer, error = %e, "{name}: cannot set TCP_NODELAY");
            }
            let handler = Arc::clone(&handler);
            let tls = tls.clone();
            tokio::spawn(async move {
                let Some((acceptor, auth_required)) = tls else {
                    return connection(name, stream, peer, handler, true).await;
                };
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        let authenticated =
                            !auth_required || stream.get_ref().1.peer_certificates().is_some();
                        connection(name, stream, peer, handler, authenticated).await
                    }
                    Ok(Err(e)) => debug!(%peer, error = %e, "{name} TLS handshake failed"),
                    Err(_) => debug!(%peer, "{name} TLS handshake timed out"),
                }
            });
        }
    });
    info!(address = %local, tls = with_tls, "{name} server listening");
    Ok(local)
}

async fn connection<IO, H, F>(
    name: &'static str,
    io: IO,
    peer: SocketAddr,
    handler: Arc<H>,
    authenticated: bool,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>, bool) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let reply = handler(req, authenticated);
        async move { Ok::<_, Infallible>(reply.await) }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(io), service)
        .await
    {
        debug!(%peer, error = %e, "{name} connection ended");
    }
}

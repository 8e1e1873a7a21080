//! The Admin listener: Fabric 2.3+'s channel participation API, compatible with
//! `osnadmin channel list|join|remove`.
//!
//! * `GET /participation/v1/channels` → 200 [`ChannelList`].
//! * `GET /participation/v1/channels/{name}` → 200 [`ChannelInfo`], or 404.
//! * `POST /participation/v1/channels`, `multipart/form-data` with one file part
//!   `config-block` → 201 [`ChannelInfo`] with `Location`; 400 for a bad form or
//!   block, 403/405/409/500 from the node as [`ParticipationError::status`] says.
//! * `DELETE /participation/v1/channels/{name}` → 204, or 404/405/409.
//! * Other methods → 405 with `Allow`; an unacceptable `Accept` → 406; paths outside
//!   `/participation/v1/` → Go's plain-text 404.
//!
//! Errors are `{"error": "..."}` with Fabric's wording. With
//! `ChannelParticipation.Enabled: false` every route answers 503, as Fabric does.
//! Fabric requires mutual TLS when `Admin.TLS.Enabled` ([`load_tls`] refuses
//! otherwise), so a client without a certificate from `Admin.TLS.ClientRootCAs`
//! fails the handshake.

mod fake;
mod multipart;
mod routes;
mod types;

#[cfg(test)]
mod tests;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use crate::config::{Admin, ChannelParticipation};
use crate::shutdown::Shutdown;
use crate::tls::{self, ListenerTls, Material};

pub use fake::FakeParticipation;
pub use routes::validate_join_block;
pub use types::{
    ChannelInfo, ChannelInfoShort, ChannelKind, ChannelList, ConsensusRelation, JoinBlock,
    Participation, ParticipationError, Status,
};

/// The form part `osnadmin channel join` puts the block in.
pub const CONFIG_BLOCK_PART: &str = "config-block";

/// How long a client may take to send a request's headers (Fabric's admin server
/// has a 10 s read timeout).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The `ChannelParticipation` settings the server acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSettings {
    /// `ChannelParticipation.Enabled`; when false, every route answers 503.
    pub enabled: bool,
    /// `ChannelParticipation.MaxRequestBodySize`: the largest join request body.
    pub max_request_body_size: usize,
}

impl From<&ChannelParticipation> for ApiSettings {
    fn from(c: &ChannelParticipation) -> Self {
        ApiSettings {
            enabled: c.enabled,
            max_request_body_size: usize::try_from(c.max_request_body_size.0).unwrap_or(usize::MAX),
        }
    }
}

/// What the handler needs.
struct Api {
    participation: Arc<dyn Participation>,
    settings: ApiSettings,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The checked TLS material of the Admin listener, when `Admin.TLS.Enabled`.
/// As Fabric, refuses TLS without client authentication.
pub fn load_tls(admin: &Admin) -> anyhow::Result<Option<Material>> {
    let t = &admin.tls;
    if !t.enabled {
        return Ok(None);
    }
    if !t.client_auth_required {
        bail!(
            "Admin.TLS.ClientAuthRequired: expected true, because Admin.TLS.Enabled is true \
             (the admin listener requires mutual TLS, as in Fabric)"
        );
    }
    tls::load(ListenerTls {
        section: "Admin",
        private_key: &t.private_key,
        certificate: &t.certificate,
        chain: &t.root_cas,
        client_auth_required: true,
        client_root_cas: &t.client_root_cas,
        anonymous_clients: false,
    })
    .map(Some)
}

/// Binds `addr` (`Admin.ListenAddress`) and serves the channel participation API
/// until `shutdown`. Returns the bound address (useful with port 0).
pub async fn serve(
    addr: &str,
    tls: Option<Material>,
    participation: Arc<dyn Participation>,
    settings: ApiSettings,
    mut shutdown: Shutdown,
) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("Admin.ListenAddress {addr}: cannot listen: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| anyhow::anyhow!("Admin.ListenAddress {addr}: no local address: {e}"))?;
    let acceptor = tls
        .as_ref()
        .map(|m| tokio_rustls::TlsAcceptor::from(m.with_alpn(&[b"http/1.1"])));
    let api = Arc::new(Api {
        participation,
        settings,
    });
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = shutdown.wait() => return,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    warn!(error = %e, "admin server: accept failed");
                    continue;
                }
            };
            let api = Arc::clone(&api);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Some(acceptor) = acceptor else {
                    return serve_connection(stream, peer, api, true).await;
                };
                match tokio::time::timeout(tls::HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        // The verifier has checked the certificate against
                        // Admin.TLS.ClientRootCAs; this only guards material built
                        // without client authentication.
                        let authenticated = stream.get_ref().1.peer_certificates().is_some();
                        serve_connection(stream, peer, api, authenticated).await
                    }
                    Ok(Err(e)) => debug!(%peer, error = %e, "admin TLS handshake failed"),
                    Err(_) => debug!(%peer, "admin TLS handshake timed out"),
                }
            });
        }
    });
    info!(address = %local, tls = tls.is_some(), enabled = settings.enabled, "admin server listening");
    Ok(local)
}

async fn serve_connection<IO>(io: IO, peer: SocketAddr, api: Arc<Api>, authenticated: bool)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let api = Arc::clone(&api);
        async move { Ok::<_, Infallible>(routes::handle(&api, req, authenticated).await) }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(io), service)
        .await
    {
        debug!(%peer, error = %e, "admin connection ended");
    }
}

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

// An in-memory participation double for the route tests; not in the binary.
#[cfg(test)]
mod fake;
mod multipart;
mod routes;
mod types;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::bail;
use tracing::info;

use crate::config::{Admin, ChannelParticipation};
use crate::shutdown::Shutdown;
use crate::tls::{self, ListenerTls, Material};

#[cfg(test)]
pub(crate) use fake::FakeParticipation;
pub use routes::validate_join_block;
pub use types::{
    ChannelInfo, ChannelInfoShort, ChannelKind, ChannelList, ConsensusRelation, JoinBlock,
    Participation, ParticipationError, Status,
};

/// The form part `osnadmin channel join` puts the block in.
pub const CONFIG_BLOCK_PART: &str = "config-block";

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
    shutdown: Shutdown,
) -> anyhow::Result<SocketAddr> {
    let api = Arc::new(Api {
        participation,
        settings,
    });
    let what = crate::http::Listener {
        key: "Admin.ListenAddress",
        name: "admin",
    };
    let local = crate::http::serve(
        what,
        addr,
        tls.as_ref(),
        shutdown,
        move |req, authenticated| {
            let api = Arc::clone(&api);
            async move { routes::handle(&api, req, authenticated).await }
        },
    )
    .await?;
    info!(address = %local, enabled = settings.enabled, "channel participation API served");
    Ok(local)
}

//! Connecting to an orderer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::proto_client::atomic_broadcast_client::AtomicBroadcastClient;

/// Largest message accepted from the orderer (blocks can be large).
pub const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// TLS towards the orderer: the CA of its certificate and, for mutual TLS, the
/// client's own certificate and key (PEM files).
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// Checked TLS material.
#[derive(Debug, Clone)]
pub struct Tls {
    ca_pem: Vec<u8>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
    /// The client certificate, DER (for Fabric's tls_cert_hash).
    pub cert_der: Option<Vec<u8>>,
}

fn read_pem(flag: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{flag} {}: cannot read", path.display()))
}

impl TlsFiles {
    /// Reads and checks the files; `None` when TLS is not asked for.
    pub fn load(&self) -> anyhow::Result<Option<Tls>> {
        let Some(ca) = &self.ca else {
            if self.cert.is_some() || self.key.is_some() {
                bail!(
                    "--tls-cert and --tls-key need --tls-ca (the CA of the orderer's TLS certificate)"
                );
            }
            return Ok(None);
        };
        let ca_pem = read_pem("--tls-ca", ca)?;
        orderer_msp::pem_certificates(&ca_pem)
            .map_err(|e| anyhow::anyhow!("--tls-ca {}: {e}", ca.display()))?;
        let (identity, cert_der) = match (&self.cert, &self.key) {
            (None, None) => (None, None),
            (Some(cert), Some(key)) => {
                let cert_pem = read_pem("--tls-cert", cert)?;
                let ders = orderer_msp::pem_certificates(&cert_pem)
                    .map_err(|e| anyhow::anyhow!("--tls-cert {}: {e}", cert.display()))?;
                let key_pem = read_pem("--tls-key", key)?;
                if !String::from_utf8_lossy(&key_pem).contains("PRIVATE KEY-----") {
                    bail!("--tls-key {}: expected a PEM private key", key.display());
                }
                (Some((cert_pem, key_pem)), ders.into_iter().next())
            }
            _ => bail!("--tls-cert and --tls-key go together (mutual TLS)"),
        };
        Ok(Some(Tls {
            ca_pem,
            identity,
            cert_der,
        }))
    }
}

/// Connects to `server` (`host:port`, or a full `http://` URL) without TLS.
pub async fn connect(server: &str) -> anyhow::Result<AtomicBroadcastClient<Channel>> {
    connect_with(server, None).await
}

/// Connects to `server`, over TLS when `tls` is given.
pub async fn connect_with(
    server: &str,
    tls: Option<&Tls>,
) -> anyhow::Result<AtomicBroadcastClient<Channel>> {
    Ok(AtomicBroadcastClient::new(channel(server, tls).await?)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE))
}

/// Opens one HTTP/2 connection to `server`, over TLS when `tls` is given.
pub async fn channel(server: &str, tls: Option<&Tls>) -> anyhow::Result<Channel> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = if server.contains("://") {
        server.to_owned()
    } else {
        format!("{scheme}://{server}")
    };
    let mut endpoint = Endpoint::from_shared(url.clone())
        .with_context(|| format!("--server {server:?} is not a valid address"))?
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true);
    if let Some(tls) = tls {
        let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&tls.ca_pem));
        if let Some((cert, key)) = &tls.identity {
            config = config.identity(Identity::from_pem(cert, key));
        }
        endpoint = endpoint
            .tls_config(config)
            .map_err(|e| anyhow::anyhow!("TLS settings refused: {}", error_chain(&e)))?;
    }
    endpoint.connect().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot connect to the orderer at {server}: {}",
            error_chain(&e)
        )
    })
}

/// An error and its causes on one line ("transport error: Connection refused").
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}

/// A gRPC status as a sentence.
pub fn describe_status(s: &tonic::Status) -> String {
    let mut out = format!("{:?}", s.code());
    if !s.message().is_empty() {
        out.push_str(": ");
        out.push_str(s.message());
    }
    if let Some(src) = std::error::Error::source(s) {
        out.push_str(" (");
        out.push_str(&error_chain(src));
        out.push(')');
    }
    out
}

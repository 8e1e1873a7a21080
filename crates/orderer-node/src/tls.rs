//! TLS of the gRPC and operations listeners, with rustls (ring).
//!
//! Key material is read and checked once at start: every problem (unreadable file,
//! no PEM, a key that does not match the certificate, a CA file without
//! certificates) stops the start with the config key, the file and the problem.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// A TLS handshake must finish within this, so that idle half-open connections do
/// not pile up.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS settings of one listener, as configured.
#[derive(Debug, Clone, Copy)]
pub struct ListenerTls<'a> {
    /// `General` or `Operations`: names the keys in errors.
    pub section: &'a str,
    pub private_key: &'a str,
    pub certificate: &'a str,
    /// Extra certificates sent after the server's own (its CA chain).
    pub chain: &'a [String],
    pub client_auth_required: bool,
    pub client_root_cas: &'a [String],
    /// With client auth: let clients without a certificate finish the handshake (the
    /// operations server then refuses them on the endpoints that need one).
    pub anonymous_clients: bool,
}

/// The checked PEM material of a listener.
#[derive(Debug, Clone)]
pub struct Material {
    /// The server certificate followed by its chain, PEM.
    pub cert_chain_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// The CAs of client certificates, PEM; empty when clients are not authenticated.
    pub client_cas_pem: Vec<u8>,
    pub client_auth_required: bool,
    /// A rustls server configuration built from it (ALPN not set).
    pub server_config: Arc<rustls::ServerConfig>,
}

/// Makes ring the process's rustls provider (tonic's TLS uses the process default).
pub fn install_provider() {
    // Fails only when a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Reads and checks a listener's key material.
pub fn load(tls: ListenerTls<'_>) -> anyhow::Result<Material> {
    install_provider();
    let s = tls.section;
    let key_name = format!("{s}.TLS.PrivateKey");
    let cert_name = format!("{s}.TLS.Certificate");
    let (cert_pem, mut chain) = read_certs(&cert_name, tls.certificate)?;
    let mut cert_chain_pem = cert_pem;
    for path in tls.chain {
        let (pem, certs) = read_certs(&format!("{s}.TLS.RootCAs"), path)?;
        cert_chain_pem.extend_from_slice(&pem);
        chain.extend(certs);
    }
    let key_pem = read(&key_name, tls.private_key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        anyhow!(
            "{key_name} {}: expected a PEM private key (PKCS#8, SEC1 or PKCS#1): {e}",
            tls.private_key
        )
    })?;

    let mut client_cas_pem = Vec::new();
    let mut roots = RootCertStore::empty();
    for path in tls.client_root_cas {
        let name = format!("{s}.TLS.ClientRootCAs");
        let (pem, certs) = read_certs(&name, path)?;
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| anyhow!("{name} {path}: not a usable CA certificate: {e}"))?;
        }
        client_cas_pem.extend_from_slice(&pem);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("rustls: protocol versions")?;
    let builder = if tls.client_auth_required {
        if roots.is_empty() {
            bail!(
                "{s}.TLS.ClientRootCAs: {s}.TLS.ClientAuthRequired is true, so expected at least one CA certificate"
            );
        }
        let mut verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider);
        if tls.anonymous_clients {
            verifier = verifier.allow_unauthenticated();
        }
        let verifier = verifier.build().with_context(|| {
            format!("{s}.TLS.ClientRootCAs: cannot verify clients with these CAs")
        })?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let server_config = builder.with_single_cert(chain, key).map_err(|e| {
        anyhow!(
            "{key_name} {} and {cert_name} {}: {}",
            tls.private_key,
            tls.certificate,
            explain(&e)
        )
    })?;
    Ok(Material {
        cert_chain_pem,
        key_pem,
        client_cas_pem: if tls.client_auth_required {
            client_cas_pem
        } else {
            Vec::new()
        },
        client_auth_required: tls.client_auth_required,
        server_config: Arc::new(server_config),
    })
}

impl Material {
    /// tonic's form of the same settings.
    pub fn tonic(&self) -> tonic::transport::ServerTlsConfig {
        let identity = tonic::transport::Identity::from_pem(&self.cert_chain_pem, &self.key_pem);
        let mut config = tonic::transport::ServerTlsConfig::new()
            .identity(identity)
            .timeout(HANDSHAKE_TIMEOUT);
        if self.client_auth_required {
            config = config
                .client_ca_root(tonic::transport::Certificate::from_pem(
                    &self.client_cas_pem,
                ))
                .client_auth_optional(false);
        }
        config
    }

    /// The rustls configuration with `alpn` protocols offered.
    pub fn with_alpn(&self, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
        let mut config = (*self.server_config).clone();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

fn read(key: &str, path: &str) -> anyhow::Result<Vec<u8>> {
    if path.is_empty() {
        bail!("{key}: expected the path of a PEM file, found nothing");
    }
    std::fs::read(Path::new(path)).map_err(|e| anyhow!("{key} {path}: cannot read the file: {e}"))
}

/// A file's PEM bytes and the certificates in it (at least one).
fn read_certs(key: &str, path: &str) -> anyhow::Result<(Vec<u8>, Vec<CertificateDer<'static>>)> {
    let pem = read(key, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{key} {path}: expected PEM certificates: {e}"))?;
    if certs.is_empty() {
        bail!("{key} {path}: expected a PEM certificate (-----BEGIN CERTIFICATE-----), found none");
    }
    for cert in &certs {
        x509_parser::parse_x509_certificate(cert.as_ref())
            .map_err(|e| anyhow!("{key} {path}: not a valid X.509 certificate: {e}"))?;
    }
    Ok((pem, certs))
}

fn explain(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            "the private key does not belong to the certificate".into()
        }
        other => format!("unusable key or certificate: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderer_msp::generate::{Authority, Usage, Validity};

    fn write(dir: &Path, name: &str, text: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path.to_string_lossy().into_owned()
    }

    fn settings<'a>(key: &'a str, cert: &'a str, cas: &'a [String]) -> ListenerTls<'a> {
        ListenerTls {
            section: "General",
            private_key: key,
            certificate: cert,
            chain: &[],
            client_auth_required: !cas.is_empty(),
            client_root_cas: cas,
            anonymous_clients: false,
        }
    }

    #[test]
    fn good_material_loads_and_bad_material_names_the_file_and_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = Authority::root("tls-ca", "Org", Validity::days(1)).expect("ca");
        let (cert, key) = ca
            .issue(
                "localhost",
                "Org",
                Validity::days(1),
                Usage::Tls(vec!["localhost".into()]),
            )
            .expect("issue");
        let (_, other_key) = ca
            .issue(
                "other",
                "Org",
                Validity::days(1),
                Usage::Tls(vec!["localhost".into()]),
            )
            .expect("issue");
        let cert = write(dir.path(), "server.crt", &cert);
        let key = write(dir.path(), "server.key", &key);
        let other_key = write(dir.path(), "other.key", &other_key);
        let ca_file = write(dir.path(), "ca.crt", ca.cert_pem());
        let garbage = write(dir.path(), "garbage.pem", "hello");

        load(settings(&key, &cert, &[])).expect("good material");
        load(settings(&key, &cert, std::slice::from_ref(&ca_file))).expect("with client CAs");

        let err = |r: anyhow::Result<Material>| format!("{:#}", r.expect_err("must fail"));
        let e = err(load(settings(&other_key, &cert, &[])));
        assert!(
            e.contains("does not belong to the certificate") && e.contains("other.key"),
            "{e}"
        );
        let e = err(load(settings(&key, &garbage, &[])));
        assert!(
            e.contains("General.TLS.Certificate") && e.contains("garbage.pem"),
            "{e}"
        );
        let e = err(load(settings(&garbage, &cert, &[])));
        assert!(
            e.contains("General.TLS.PrivateKey") && e.contains("PEM private key"),
            "{e}"
        );
        let e = err(load(settings(&key, "/nonexistent/x.crt", &[])));
        assert!(
            e.contains("/nonexistent/x.crt") && e.contains("cannot read"),
            "{e}"
        );
        let e = err(load(settings(&key, &cert, std::slice::from_ref(&garbage))));
        assert!(
            e.contains("General.TLS.ClientRootCAs") && e.contains("garbage.pem"),
            "{e}"
        );
    }
}

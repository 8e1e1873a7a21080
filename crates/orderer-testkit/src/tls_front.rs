//! A TLS-terminating front for a plaintext broker: clients speak TLS (optionally with
//! client certificates) to it, and it pipes the plaintext to the broker. tansu 0.6's
//! own TLS cannot be switched on from its command line, so Kafka TLS is tested
//! through this front.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// PEM material of the front.
#[derive(Debug, Clone)]
pub struct TlsFront {
    pub cert_pem: String,
    pub key_pem: String,
    /// When set, clients must present a certificate issued by this CA.
    pub client_ca_pem: Option<String>,
}

/// A running front: accepts TLS on `port`, forwards to the backend port.
#[derive(Debug)]
pub(crate) struct Front {
    pub(crate) port: u16,
    /// Dropping it stops accepting.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Front {
    pub(crate) fn start(settings: &TlsFront, backend: u16) -> Front {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(settings.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap_or_else(|e| panic!("TLS front certificate: {e}"));
        let key = PrivateKeyDer::from_pem_slice(settings.key_pem.as_bytes())
            .unwrap_or_else(|e| panic!("TLS front key: {e}"));
        let builder = rustls::ServerConfig::builder();
        let builder = match &settings.client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                    roots
                        .add(c.unwrap_or_else(|e| panic!("TLS front client CA: {e}")))
                        .unwrap_or_else(|e| panic!("TLS front client CA: {e}"));
                }
                let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
                    .build()
                    .unwrap_or_else(|e| panic!("TLS front client verifier: {e}"));
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(certs, key)
            .unwrap_or_else(|e| panic!("TLS front certificate and key: {e}"));
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .unwrap_or_else(|e| panic!("TLS front listener: {e}"));
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("TLS front: {e}"));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        // Its own thread and runtime: tests may be async or not, and may drop the
        // broker inside a runtime.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("TLS front runtime: {e}"));
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .unwrap_or_else(|e| panic!("TLS front listener: {e}"));
                loop {
                    let tcp = tokio::select! {
                        _ = &mut stopped => return,
                        accepted = listener.accept() => match accepted {
                            Ok((tcp, _)) => tcp,
                            Err(_) => continue,
                        },
                    };
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        // A failed handshake (wrong CA, no client certificate) just closes.
                        let Ok(mut tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let Ok(mut plain) =
                            tokio::net::TcpStream::connect(("127.0.0.1", backend)).await
                        else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    });
                }
            });
        });
        Front { port, _stop: stop }
    }
}

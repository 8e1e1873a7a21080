//! `Operations`, `Metrics`, `Tracing`, `Admin` and `ChannelParticipation`: the HTTP
//! listeners beside gRPC and what the node exports.

use std::fmt;
use std::net::SocketAddr;

use orderer_api::config::{ByteSize, KeyDoc, Problems, Section, null_as_default};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::general::{ListenerTls, validate_tls, visit_tls_paths};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Operations {
    pub listen_address: String,
    #[serde(rename = "TLS")]
    pub tls: ListenerTls,
}

impl Default for Operations {
    fn default() -> Self {
        Operations {
            listen_address: "127.0.0.1:8443".into(),
            tls: ListenerTls::default(),
        }
    }
}

impl Section for Operations {
    const KEYS: &'static [KeyDoc] = &[
        KeyDoc::new(
            "Operations.ListenAddress",
            "`host:port` of the operations HTTP server: `/metrics`, `/healthz`, `/logspec`, `/version`.",
        ),
        KeyDoc::new(
            "Operations.TLS.Enabled",
            "TLS on the operations listener; `/healthz` and `/version` stay open to clients without a certificate.",
        ),
        KeyDoc::path("Operations.TLS.PrivateKey", "PEM key."),
        KeyDoc::path("Operations.TLS.Certificate", "PEM certificate."),
        KeyDoc::path(
            "Operations.TLS.RootCAs",
            "PEM CAs of the certificate's chain.",
        ),
        KeyDoc::new(
            "Operations.TLS.ClientAuthRequired",
            "`/metrics` and `/logspec` need a client certificate from `ClientRootCAs`.",
        ),
        KeyDoc::path(
            "Operations.TLS.ClientRootCAs",
            "PEM CAs of client certificates.",
        ),
    ];

    fn validate(&self, p: &mut Problems) {
        if parse_listen_addr(&self.listen_address).is_err() {
            p.bad(
                "Operations.ListenAddress",
                format!("{:?}", self.listen_address),
                "expected host:port, like 127.0.0.1:8443 (port 0: any free port)",
            );
        }
        validate_tls("Operations", &self.tls, p);
    }

    fn visit_paths(&mut self, visit: &mut dyn FnMut(&'static str, &mut String)) {
        visit_tls_paths(
            [
                "Operations.TLS.PrivateKey",
                "Operations.TLS.Certificate",
                "Operations.TLS.RootCAs",
                "Operations.TLS.ClientRootCAs",
            ],
            &mut self.tls,
            visit,
        );
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Metrics {
    pub provider: MetricsProvider,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            provider: MetricsProvider::Prometheus,
        }
    }
}

impl Section for Metrics {
    const KEYS: &'static [KeyDoc] = &[KeyDoc::new(
        "Metrics.Provider",
        "`prometheus` (Prometheus text at `/metrics`) or `disabled`. Fabric's `statsd` is refused: this orderer has no StatsD exporter.",
    )];

    fn validate(&self, _p: &mut Problems) {}
}

/// Where metrics go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsProvider {
    Prometheus,
    Disabled,
}

impl MetricsProvider {
    const ALL: [(&'static str, MetricsProvider); 2] = [
        ("prometheus", MetricsProvider::Prometheus),
        ("disabled", MetricsProvider::Disabled),
    ];
}

impl Serialize for MetricsProvider {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let name = MetricsProvider::ALL
            .iter()
            .find(|(_, p)| p == self)
            .map_or("disabled", |(n, _)| *n);
        s.serialize_str(name)
    }
}

impl<'de> Deserialize<'de> for MetricsProvider {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        MetricsProvider::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s.trim()))
            .map(|(_, p)| *p)
            .ok_or_else(|| {
                let hint = if s.trim().eq_ignore_ascii_case("statsd") {
                    " (this orderer has no StatsD exporter; scrape /metrics instead)"
                } else {
                    ""
                };
                serde::de::Error::custom(format!(
                    "unknown metrics provider {s:?}: expected one of prometheus, disabled{hint}"
                ))
            })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Tracing {
    #[serde(deserialize_with = "null_as_default")]
    pub endpoint: String,
    pub service_name: String,
    pub sample_ratio: f64,
}

impl Default for Tracing {
    fn default() -> Self {
        Tracing {
            endpoint: String::new(),
            service_name: "orderer".into(),
            sample_ratio: 1.0,
        }
    }
}

impl Section for Tracing {
    const KEYS: &'static [KeyDoc] = &[
        KeyDoc::new(
            "Tracing.Endpoint",
            "OTLP/gRPC collector URL, e.g. `http://127.0.0.1:4317`. Empty: the standard `OTEL_EXPORTER_OTLP_ENDPOINT` if set, else no export.",
        ),
        KeyDoc::new(
            "Tracing.ServiceName",
            "`service.name` of exported spans (`service.instance.id` is the gRPC address).",
        ),
        KeyDoc::new(
            "Tracing.SampleRatio",
            "Fraction of traces exported, 0 to 1; a client's sampling decision is followed.",
        ),
    ];

    fn validate(&self, p: &mut Problems) {
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            p.bad(
                "Tracing.SampleRatio",
                self.sample_ratio,
                "expected a fraction between 0 and 1",
            );
        }
        if !self.endpoint.is_empty() && !self.endpoint.contains("://") {
            p.bad(
                "Tracing.Endpoint",
                format!("{:?}", self.endpoint),
                "expected a URL like http://127.0.0.1:4317",
            );
        }
    }
}

/// Fabric 2.x's admin listener for the channel participation API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Admin {
    pub listen_address: String,
    #[serde(rename = "TLS")]
    pub tls: ListenerTls,
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            listen_address: "127.0.0.1:9443".into(),
            tls: ListenerTls {
                client_auth_required: true,
                ..ListenerTls::default()
            },
        }
    }
}

impl Section for Admin {
    const KEYS: &'static [KeyDoc] = &[
        KeyDoc::new(
            "Admin.ListenAddress",
            "`host:port` of the Admin listener, which serves Fabric's channel participation API (`osnadmin channel list|info|join|remove`) when `ChannelParticipation.Enabled`; not opened otherwise.",
        ),
        KeyDoc::new("Admin.TLS.Enabled", "TLS on the admin listener."),
        KeyDoc::path("Admin.TLS.PrivateKey", "PEM key."),
        KeyDoc::path("Admin.TLS.Certificate", "PEM certificate."),
        KeyDoc::path("Admin.TLS.RootCAs", "PEM CAs of the certificate's chain."),
        KeyDoc::new(
            "Admin.TLS.ClientAuthRequired",
            "Admin clients must present a certificate (Fabric requires it).",
        ),
        KeyDoc::path(
            "Admin.TLS.ClientRootCAs",
            "PEM CAs of admin client certificates.",
        ),
    ];

    /// Checked when the listener is served (`ChannelParticipation.Enabled`).
    fn validate(&self, p: &mut Problems) {
        if parse_listen_addr(&self.listen_address).is_err() {
            p.bad(
                "Admin.ListenAddress",
                format!("{:?}", self.listen_address),
                "expected host:port, like 127.0.0.1:9443",
            );
        }
        // Fabric refuses to start with TLS but without client authentication here.
        if self.tls.enabled && !self.tls.client_auth_required {
            p.bad(
                "Admin.TLS.ClientAuthRequired",
                false,
                "expected true, because Admin.TLS.Enabled is true (the admin listener requires mutual TLS, as in Fabric)",
            );
        }
        validate_tls("Admin", &self.tls, p);
    }

    fn visit_paths(&mut self, visit: &mut dyn FnMut(&'static str, &mut String)) {
        visit_tls_paths(
            [
                "Admin.TLS.PrivateKey",
                "Admin.TLS.Certificate",
                "Admin.TLS.RootCAs",
                "Admin.TLS.ClientRootCAs",
            ],
            &mut self.tls,
            visit,
        );
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ChannelParticipation {
    pub enabled: bool,
    pub max_request_body_size: ByteSize,
}

impl Default for ChannelParticipation {
    fn default() -> Self {
        ChannelParticipation {
            enabled: false,
            max_request_body_size: ByteSize(1 << 20),
        }
    }
}

impl Section for ChannelParticipation {
    const KEYS: &'static [KeyDoc] = &[
        KeyDoc::new(
            "ChannelParticipation.Enabled",
            "Serves Fabric's channel participation API on `Admin.ListenAddress`: list channels, one channel's height, join a channel with its genesis block (solo or Kafka: a Kafka OSN joined this way replays the channel's topic), remove a channel and its ledger. With it, `Channels` may be empty: the node starts with no channel and joins them.",
        ),
        KeyDoc::new(
            "ChannelParticipation.MaxRequestBodySize",
            "Largest join request (a config block) the API accepts.",
        ),
    ];

    fn validate(&self, _p: &mut Problems) {}
}

/// Parses a listen address: `host:port`, where port 0 means any free port.
pub fn parse_listen_addr(s: &str) -> Result<SocketAddr, String> {
    match s.rsplit_once(':') {
        Some((host, "0")) => parse_socket_addr(&format!("{host}:1")).map(|mut a| {
            a.set_port(0);
            a
        }),
        _ => parse_socket_addr(s),
    }
}

/// Parses `host:port` where host is an IP address or `localhost`.
pub fn parse_socket_addr(s: &str) -> Result<SocketAddr, String> {
    orderer_api::config::check_host_port(s).map_err(|e| e.to_string())?;
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let (host, port) = s.rsplit_once(':').ok_or("expected host:port")?;
    let port: u16 = port
        .parse()
        .map_err(|_| "port must be 0-65535".to_string())?;
    match host {
        "localhost" => Ok(SocketAddr::from(([127, 0, 0, 1], port))),
        "" | "0.0.0.0" => Ok(SocketAddr::from(([0, 0, 0, 0], port))),
        _ => Err(format!(
            "expected an IP address or localhost before the port, got {host:?}"
        )),
    }
}

impl fmt::Display for MetricsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MetricsProvider::Prometheus => "prometheus",
            MetricsProvider::Disabled => "disabled",
        })
    }
}

//! `General`, `FileLedger` and `Debug`: the gRPC listener, this node's identity and
//! how requests are authenticated, how channels are bootstrapped, where blocks live.

use orderer_api::config::{ByteSize, GoDuration, KeyDoc, Problems, Section, null_as_default};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct General {
    pub listen_address: String,
    pub listen_port: u16,
    #[serde(rename = "TLS")]
    pub tls: ListenerTls,
    pub keepalive: Keepalive,
    pub max_recv_msg_size: ByteSize,
    pub max_send_msg_size: ByteSize,
    pub log_level: String,
    #[serde(rename = "LocalMSPDir")]
    pub local_msp_dir: String,
    #[serde(rename = "LocalMSPID")]
    pub local_msp_id: String,
    pub authentication: Authentication,
    #[serde(deserialize_with = "null_as_default")]
    pub bootstrap_method: String,
    #[serde(deserialize_with = "null_as_default")]
    pub bootstrap_file: String,
    /// Fabric 1.4's names for the two keys above.
    #[serde(deserialize_with = "null_as_default")]
    pub genesis_method: String,
    #[serde(deserialize_with = "null_as_default")]
    pub genesis_file: String,
}

/// TLS of a listener (Fabric's `TLS` block; paths are PEM files).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ListenerTls {
    pub enabled: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub private_key: String,
    #[serde(deserialize_with = "null_as_default")]
    pub certificate: String,
    #[serde(rename = "RootCAs", deserialize_with = "null_as_default")]
    pub root_cas: Vec<String>,
    pub client_auth_required: bool,
    #[serde(rename = "ClientRootCAs", deserialize_with = "null_as_default")]
    pub client_root_cas: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Keepalive {
    pub server_min_interval: GoDuration,
    pub server_interval: GoDuration,
    pub server_timeout: GoDuration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Authentication {
    pub time_window: GoDuration,
    pub skip_signature_checks: bool,
}

/// How the channels this node serves get their genesis block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// Made by this node from `Orderer`, `Organizations` and `Channels`.
    Generate,
    /// Read from a configtxgen block.
    File(String),
}

impl Default for General {
    /// Fabric's sample values, except a solo-friendly loopback listener.
    fn default() -> Self {
        General {
            listen_address: "127.0.0.1".into(),
            listen_port: 7050,
            tls: ListenerTls::default(),
            keepalive: Keepalive {
                server_min_interval: GoDuration::secs(60),
                server_interval: GoDuration::secs(7200),
                server_timeout: GoDuration::secs(20),
            },
            max_recv_msg_size: ByteSize(100 << 20),
            max_send_msg_size: ByteSize(100 << 20),
            log_level: "info".into(),
            local_msp_dir: "msp".into(),
            local_msp_id: "SampleOrg".into(),
            authentication: Authentication {
                time_window: GoDuration::secs(15 * 60),
                skip_signature_checks: false,
            },
            bootstrap_method: String::new(),
            bootstrap_file: String::new(),
            genesis_method: String::new(),
            genesis_file: String::new(),
        }
    }
}

impl General {
    /// The bootstrap method, read as Fabric does: `BootstrapMethod` (2.x) wins over
    /// `GenesisMethod` (1.4); the file is `BootstrapFile`, else `GenesisFile`. Fabric
    /// 1.4's `provisional` (the orderer makes the genesis block itself) is this node's
    /// generated genesis.
    pub fn bootstrap(&self) -> Bootstrap {
        let method = if self.bootstrap_method.is_empty() {
            &self.genesis_method
        } else {
            &self.bootstrap_method
        };
        if method.eq_ignore_ascii_case("file") {
            let file = [&self.bootstrap_file, &self.genesis_file]
                .into_iter()
                .find(|f| !f.is_empty())
                .cloned()
                .unwrap_or_else(|| "genesisblock".into());
            Bootstrap::File(file)
        } else {
            Bootstrap::Generate
        }
    }

    /// The gRPC listen address as `host:port`.
    pub fn grpc_address(&self) -> String {
        let host = &self.listen_address;
        if host.contains(':') {
            format!("[{host}]:{}", self.listen_port)
        } else {
            format!("{host}:{}", self.listen_port)
        }
    }
}

/// Checks a listener's TLS keys under `prefix` (`General`, `Operations`, `Admin`).
pub(crate) fn validate_tls(prefix: &str, t: &ListenerTls, p: &mut Problems) {
    if !t.enabled {
        return;
    }
    let because = format!("{prefix}.TLS.Enabled is true");
    p.pem_file(
        &format!("{prefix}.TLS.PrivateKey"),
        &t.private_key,
        &because,
    );
    p.pem_file(
        &format!("{prefix}.TLS.Certificate"),
        &t.certificate,
        &because,
    );
    if t.client_auth_required && t.client_root_cas.is_empty() {
        p.bad(
            format!("{prefix}.TLS.ClientRootCAs"),
            "[]",
            format!("{prefix}.TLS.ClientAuthRequired is true, so expected the CAs of client certificates"),
        );
    }
    for path in &t.client_root_cas {
        p.pem_file(&format!("{prefix}.TLS.ClientRootCAs"), path, &because);
    }
}

/// Hands a listener's TLS paths to `visit` under keys `{prefix}.TLS.*`.
pub(crate) fn visit_tls_paths(
    keys: [&'static str; 4],
    t: &mut ListenerTls,
    visit: &mut dyn FnMut(&'static str, &mut String),
) {
    visit(keys[0], &mut t.private_key);
    visit(keys[1], &mut t.certificate);
    t.root_cas.iter_mut().for_each(|p| visit(keys[2], p));
    t.client_root_cas.iter_mut().for_each(|p| visit(keys[3], p));
}

impl Section for General {
    const KEYS: &'static [KeyDoc] = &[
        KeyDoc::new(
            "General.ListenAddress",
            "IP address or host name the gRPC server binds.",
        ),
        KeyDoc::new(
            "General.ListenPort",
            "gRPC port (0: any free port, logged at start).",
        ),
        KeyDoc::new("General.TLS.Enabled", "TLS on the gRPC listener (rustls)."),
        KeyDoc::path(
            "General.TLS.PrivateKey",
            "PEM key of the server certificate.",
        ),
        KeyDoc::path("General.TLS.Certificate", "PEM server certificate."),
        KeyDoc::path(
            "General.TLS.RootCAs",
            "PEM CAs of the server certificate's chain.",
        ),
        KeyDoc::new(
            "General.TLS.ClientAuthRequired",
            "Mutual TLS: clients must present a certificate from `ClientRootCAs`; Deliver requests must carry its hash (`tls_cert_hash`).",
        ),
        KeyDoc::path(
            "General.TLS.ClientRootCAs",
            "PEM CAs of client certificates.",
        ),
        KeyDoc::new(
            "General.Keepalive.ServerMinInterval",
            "Fabric's minimum interval between client pings. Accepted but not enforced: the HTTP/2 server used here does not police client ping rates.",
        ),
        KeyDoc::new(
            "General.Keepalive.ServerInterval",
            "The server pings an idle client connection this often (HTTP/2 keepalive).",
        ),
        KeyDoc::new(
            "General.Keepalive.ServerTimeout",
            "A connection whose client does not answer a keepalive ping within this is closed.",
        ),
        KeyDoc::new(
            "General.MaxRecvMsgSize",
            "Largest gRPC message accepted; keep it above `AbsoluteMaxBytes`.",
        ),
        KeyDoc::new(
            "General.MaxSendMsgSize",
            "Largest gRPC message sent (a block in Deliver).",
        ),
        KeyDoc::new(
            "General.LogLevel",
            "A tracing filter: `debug`, or `info,orderer_node=debug`.",
        ),
        KeyDoc::path(
            "General.LocalMSPDir",
            "This orderer's identity: an MSP directory (`signcerts/`, `keystore/`, `cacerts/`). It signs every block.",
        ),
        KeyDoc::new("General.LocalMSPID", "The MSP ID of that identity."),
        KeyDoc::new(
            "General.Authentication.TimeWindow",
            "A request's ChannelHeader timestamp may differ from the orderer's clock by at most this (else BAD_REQUEST).",
        ),
        KeyDoc::new(
            "General.Authentication.SkipSignatureChecks",
            "`true` accepts envelopes without checking signatures, certificates and Writers/Readers. Development only; the orderer warns at every start.",
        ),
        KeyDoc::new(
            "General.BootstrapMethod",
            "`none` (or empty): this node makes each channel's genesis block from `Orderer`, `Organizations` and `Channels`, as configtxgen would. `file`: the channel is the one of the configtxgen block `BootstrapFile` (application or system channel), served as block 0 byte for byte; consensus type, batch settings and Kafka brokers come from the block.",
        ),
        KeyDoc::path(
            "General.BootstrapFile",
            "The genesis block for `BootstrapMethod: file` (default `genesisblock` beside the configuration file).",
        ),
        KeyDoc::new(
            "General.GenesisMethod",
            "Fabric 1.4's name for `BootstrapMethod` (`provisional` = `none`); `BootstrapMethod` wins when both are set.",
        ),
        KeyDoc::path(
            "General.GenesisFile",
            "Fabric 1.4's name for `BootstrapFile`.",
        ),
    ];

    fn validate(&self, p: &mut Problems) {
        let address = &self.listen_address;
        p.non_empty(
            "General.ListenAddress",
            address,
            "expected an IP address or host name",
        );
        if address.contains(':') && address.parse::<std::net::Ipv6Addr>().is_err() {
            p.bad(
                "General.ListenAddress",
                format!("{address:?}"),
                "expected an IP address or host name without a port; the port is General.ListenPort",
            );
        }
        for (key, size) in [
            ("General.MaxRecvMsgSize", self.max_recv_msg_size),
            ("General.MaxSendMsgSize", self.max_send_msg_size),
        ] {
            if size.0 == 0 || size.0 > u64::from(u32::MAX) {
                p.bad(key, size, "expected a size between 1 byte and 4 GB");
            }
        }
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&self.log_level) {
            p.bad(
                "General.LogLevel",
                format!("{:?}", self.log_level),
                format!("expected a tracing filter like info or info,orderer_node=debug: {e}"),
            );
        }
        p.non_empty(
            "General.LocalMSPID",
            &self.local_msp_id,
            "expected the MSP ID of this orderer's identity",
        );
        p.non_empty(
            "General.LocalMSPDir",
            &self.local_msp_dir,
            "expected the MSP directory of this orderer's identity",
        );
        p.positive(
            "General.Authentication.TimeWindow",
            self.authentication.time_window,
        );
        p.positive(
            "General.Keepalive.ServerInterval",
            self.keepalive.server_interval,
        );
        p.positive(
            "General.Keepalive.ServerTimeout",
            self.keepalive.server_timeout,
        );
        for (key, value, valid) in [
            (
                "General.BootstrapMethod",
                &self.bootstrap_method,
                ["none", "file"],
            ),
            (
                "General.GenesisMethod",
                &self.genesis_method,
                ["provisional", "file"],
            ),
        ] {
            if !value.is_empty() && !valid.iter().any(|v| v.eq_ignore_ascii_case(value)) {
                p.bad(
                    key,
                    format!("{value:?}"),
                    format!("expected {} or {}", valid[0], valid[1]),
                );
            }
        }
        validate_tls("General", &self.tls, p);
    }

    fn visit_paths(&mut self, visit: &mut dyn FnMut(&'static str, &mut String)) {
        visit("General.LocalMSPDir", &mut self.local_msp_dir);
        visit("General.BootstrapFile", &mut self.bootstrap_file);
        visit("General.GenesisFile", &mut self.genesis_file);
        visit_tls_paths(
            [
                "General.TLS.PrivateKey",
                "General.TLS.Certificate",
                "General.TLS.RootCAs",
                "General.TLS.ClientRootCAs",
            ],
            &mut self.tls,
            visit,
        );
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FileLedger {
    pub location: String,
}

impl Default for FileLedger {
    fn default() -> Self {
        FileLedger {
            location: "data/ledger".into(),
        }
    }
}

impl Section for FileLedger {
    const KEYS: &'static [KeyDoc] = &[KeyDoc::path(
        "FileLedger.Location",
        "Ledger directory. Relative to the config file's directory when set in a file, else to the working directory.",
    )];

    fn validate(&self, p: &mut Problems) {
        p.non_empty(
            "FileLedger.Location",
            &self.location,
            "expected the ledger directory",
        );
    }

    fn visit_paths(&mut self, visit: &mut dyn FnMut(&'static str, &mut String)) {
        visit("FileLedger.Location", &mut self.location);
    }
}

/// Fabric's request tracing: every Broadcast or Deliver request received is written
/// to a file in the directory, as Fabric's orderer does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Debug {
    #[serde(deserialize_with = "null_as_default")]
    pub broadcast_trace_dir: String,
    #[serde(deserialize_with = "null_as_default")]
    pub deliver_trace_dir: String,
}

impl Section for Debug {
    const KEYS: &'static [KeyDoc] = &[
        KeyDoc::path(
            "Debug.BroadcastTraceDir",
            "When set, every Broadcast request (a marshalled envelope) is written to a file `<unix nanos>_<n>.broadcast` in this directory. Debugging only.",
        ),
        KeyDoc::path(
            "Debug.DeliverTraceDir",
            "The same for Deliver requests (`.deliver` files).",
        ),
    ];

    fn validate(&self, _p: &mut Problems) {}

    fn visit_paths(&mut self, visit: &mut dyn FnMut(&'static str, &mut String)) {
        visit("Debug.BroadcastTraceDir", &mut self.broadcast_trace_dir);
        visit("Debug.DeliverTraceDir", &mut self.deliver_trace_dir);
    }
}

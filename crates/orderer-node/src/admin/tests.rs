//! The API over real HTTP (a raw HTTP/1.1 client, plain and mutual TLS) against
//! [`FakeParticipation`], and Fabric's own `osnadmin` when `FABRIC_BIN` is set.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use orderer_api::genesis::{Consensus, Organization, Profile};
use orderer_api::proto::common::{Block, BlockData, BlockHeader};
use prost::Message;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::shutdown::{ShutdownTrigger, shutdown_pair};

/// An organization written to disk: its MSP, an `orderer` and an `admin` identity,
/// each with a TLS certificate from the org's TLS CA.
struct Org {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Org {
    fn new(msp_id: &str) -> Org {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        orderer_msp::generate::new_org(&root, msp_id, &["orderer".into(), "admin".into()], 1)
            .unwrap();
        Org { _dir: dir, root }
    }

    fn tls(&self, identity: &str, file: &str) -> String {
        self.root
            .join(identity)
            .join("tls")
            .join(file)
            .to_string_lossy()
            .into_owned()
    }

    /// Block 0 of an application channel `channel`, solo, with this org as orderer
    /// and application org.
    fn genesis(&self, channel: &str) -> Bytes {
        let msp = orderer_msp::msp_config_from_dir(&self.root.join("msp"), "OrdererMSP").unwrap();
        let org = Organization::new("OrdererOrg", "OrdererMSP", msp.into());
        let mut profile = Profile::new(channel, Consensus::Solo, vec![org.clone()], vec![org]);
        profile.orderer.addresses = vec!["127.0.0.1:7050".into()];
        Bytes::from(profile.genesis_block().unwrap().encode_to_vec())
    }
}

struct Server {
    addr: SocketAddr,
    fake: Arc<FakeParticipation>,
    _trigger: ShutdownTrigger,
}

async fn start(settings: ApiSettings, tls: Option<Material>) -> Server {
    crate::tls::install_provider();
    let (trigger, shutdown) = shutdown_pair();
    let fake = Arc::new(FakeParticipation::new());
    let addr = serve("127.0.0.1:0", tls, fake.clone(), settings, shutdown)
        .await
        .unwrap();
    Server {
        addr,
        fake,
        _trigger: trigger,
    }
}

const ENABLED: ApiSettings = ApiSettings {
    enabled: true,
    max_request_body_size: 1 << 20,
};

async fn plain() -> Server {
    start(ENABLED, None).await
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

/// One HTTP/1.1 exchange with `Connection: close`.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP response: {raw:?}")))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {head:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Resp {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

async fn call(s: &Server, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let stream = TcpStream::connect(s.addr).await.unwrap();
    exchange(stream, method, path, headers, body).await.unwrap()
}

async fn get(s: &Server, path: &str) -> Resp {
    call(s, "GET", path, &[], b"").await
}

/// A form as Go's `multipart.Writer` builds it: `(name, filename, content)`.
fn form(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let mut body = Vec::new();
    for (name, filename, content) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn join(s: &Server, block: &[u8]) -> Resp {
    let (content_type, body) = form(&[("config-block", Some("config.block"), block)]);
    call(
        s,
        "POST",
        "/participation/v1/channels",
        &[("Content-Type", &content_type)],
        &body,
    )
    .await
}

#[tokio::test]
async fn an_empty_node_lists_null_system_channel_and_null_channels() {
    let s = plain().await;
    let r = get(&s, "/participation/v1/channels").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    assert_eq!(r.body, b"{\"systemChannel\":null,\"channels\":null}\n");
    let id = r.header("X-Request-Id").unwrap_or_default();
    assert_eq!((id.len(), id.as_bytes()[14]), (36, b'4'), "{id}");
}

#[tokio::test]
async fn join_list_info_remove_round_trip_with_fabric_shapes() {
    let org = Org::new("OrdererMSP");
    let s = plain().await;
    let block = org.genesis("mychannel");

    let r = join(&s, &block).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("Location"),
        Some("/participation/v1/channels/mychannel")
    );
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({"name": "mychannel", "url": "/participation/v1/channels/mychannel",
               "consensusRelation": "other", "status": "active", "height": 1})
    );
    // The node gets the very bytes that were sent.
    assert_eq!(s.fake.joined(), vec![("mychannel".to_owned(), block)]);

    s.fake.add_channel("another", 7);
    let r = get(&s, "/participation/v1/channels").await;
    assert_eq!(
        r.json(),
        json!({"systemChannel": null, "channels": [
            {"name": "another", "url": "/participation/v1/channels/another"},
            {"name": "mychannel", "url": "/participation/v1/channels/mychannel"}]})
    );

    let r = get(&s, "/participation/v1/channels/another").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    assert_eq!(r.json()["height"], 7);

    let r = call(
        &s,
        "DELETE",
        "/participation/v1/channels/mychannel",
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());

    let r = get(&s, "/participation/v1/channels/mychannel").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body, b"{\"error\":\"channel does not exist\"}\n");
    let r = call(
        &s,
        "DELETE",
        "/participation/v1/channels/mychannel",
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error(), "cannot remove: channel does not exist");
}

#[tokio::test]
async fn joining_an_existing_channel_is_405_allowing_get_and_delete() {
    let org = Org::new("OrdererMSP");
    let s = plain().await;
    let block = org.genesis("mychannel");
    assert_eq!(join(&s, &block).await.status, 201);
    let r = join(&s, &block).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, DELETE"));
    assert_eq!(r.error(), "cannot join: channel already exists");
}

#[tokio::test]
async fn with_a_system_channel_app_channels_are_neither_joined_nor_removed() {
    let org = Org::new("OrdererMSP");
    let s = plain().await;
    s.fake.add_system_channel("syschannel", 3);
    let r = get(&s, "/participation/v1/channels").await;
    assert_eq!(
        r.json()["systemChannel"],
        json!({"name": "syschannel", "url": "/participation/v1/channels/syschannel"})
    );
    let r = join(&s, &org.genesis("mychannel")).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET"));
    assert_eq!(r.error(), "cannot join: system channel exists");
    s.fake.add_channel("app", 1);
    let r = call(&s, "DELETE", "/participation/v1/channels/app", &[], b"").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET"));
    assert_eq!(r.error(), "cannot remove: system channel exists");
}

#[tokio::test]
async fn a_channel_pending_removal_answers_409_to_join_and_remove() {
    let org = Org::new("OrdererMSP");
    let s = plain().await;
    s.fake.mark_pending_removal("mychannel");
    let r = join(&s, &org.genesis("mychannel")).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.error(), "cannot join: channel pending removal");
    let r = call(
        &s,
        "DELETE",
        "/participation/v1/channels/mychannel",
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.error(), "cannot remove: channel pending removal");
    let r = get(&s, "/participation/v1/channels/mychannel").await;
    assert_eq!(r.json()["status"], "inactive");
}

#[tokio::test]
async fn bad_join_requests_get_400_with_fabric_reasons() {
    let org = Org::new("OrdererMSP");
    let s = plain().await;
    let block = org.genesis("mychannel");
    let path = "/participation/v1/channels";

    let r = call(
        &s,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        b"{}",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), "unsupported Content-Type: [application/json]");
    let r = call(&s, "POST", path, &[], b"").await;
    assert_eq!(
        (r.status, r.error()),
        (400, "unsupported Content-Type: []".into())
    );

    let r = call(
        &s,
        "POST",
        path,
        &[("Content-Type", "multipart/form-data")],
        b"",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error(),
        "cannot read form from request body: multipart: boundary is empty"
    );
    let r = call(
        &s,
        "POST",
        path,
        &[("Content-Type", "multipart/form-data; boundary=\"x")],
        b"",
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.error().starts_with("cannot parse Mime media type"),
        "{}",
        r.error()
    );

    type Parts<'a> = Vec<(&'a str, Option<&'a str>, &'a [u8])>;
    let cases: Vec<(Parts<'_>, &str)> = vec![
        (
            vec![("block", Some("config.block"), &block)],
            "form does not contains part key: config-block",
        ),
        (
            vec![("config-block", None, &block)],
            "form does not contains part key: config-block",
        ),
        (
            vec![
                ("config-block", Some("config.block"), &block),
                ("note", None, b"hi"),
            ],
            "form contains too many parts",
        ),
        (
            vec![
                ("config-block", Some("config.block"), &block),
                ("other", Some("o"), b"x"),
            ],
            "form contains too many parts",
        ),
        (
            vec![("config-block", Some("config.block"), b"\xff\xff\xff")],
            "cannot unmarshal file part config-block into a block",
        ),
    ];
    for (parts, want) in cases {
        let (ct, body) = form(&parts);
        let r = call(&s, "POST", path, &[("Content-Type", &ct)], &body).await;
        assert_eq!(r.status, 400, "{want}");
        assert!(
            r.error().starts_with(want),
            "expected {want:?}, got {:?}",
            r.error()
        );
    }

    // A well-formed block that is not a config block.
    let not_config = Block {
        header: Some(BlockHeader::default()),
        data: Some(BlockData {
            data: vec![Bytes::from_static(b"")],
        }),
        metadata: None,
    }
    .encode_to_vec();
    let r = join(&s, &not_config).await;
    assert_eq!(r.status, 400);
    assert!(
        r.error()
            .starts_with("invalid join block: block is not a config block"),
        "{}",
        r.error()
    );
    assert!(s.fake.joined().is_empty());
}

#[tokio::test]
async fn a_join_body_over_max_request_body_size_is_refused() {
    let org = Org::new("OrdererMSP");
    let block = org.genesis("mychannel");
    let s = start(
        ApiSettings {
            enabled: true,
            max_request_body_size: block.len(),
        },
        None,
    )
    .await;
    let r = join(&s, &block).await;
    assert_eq!(r.status, 400);
    assert!(
        r.error().contains("request body too large"),
        "{}",
        r.error()
    );
    assert!(r.error().contains("MaxRequestBodySize"), "{}", r.error());
    assert!(s.fake.joined().is_empty());
}

#[tokio::test]
async fn other_methods_get_405_with_allow() {
    let s = plain().await;
    for (method, path, allow) in [
        ("PUT", "/participation/v1/channels", "GET, POST"),
        ("DELETE", "/participation/v1/channels", "GET, POST"),
        ("HEAD", "/participation/v1/channels", "GET, POST"),
        (
            "POST",
            "/participation/v1/channels/mychannel",
            "GET, DELETE",
        ),
        (
            "PATCH",
            "/participation/v1/channels/mychannel",
            "GET, DELETE",
        ),
    ] {
        let r = call(&s, method, path, &[], b"").await;
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("Allow"), Some(allow), "{method} {path}");
        if method != "HEAD" {
            assert_eq!(r.error(), format!("invalid request method: {method}"));
        }
    }
}

#[tokio::test]
async fn unknown_paths_are_go_style_404s_and_the_base_redirects() {
    let s = plain().await;
    for path in [
        "/",
        "/participation/v2/channels",
        "/participation/v1/channels/",
        "/participation/v1/channels/a/b",
        "/participation/v1/other",
    ] {
        let r = get(&s, path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
        assert_eq!(r.body, b"404 page not found\n", "{path}");
    }
    let r = get(&s, "/participation/v1").await;
    assert_eq!(
        (r.status, r.header("Location")),
        (307, Some("/participation/v1/"))
    );
    assert_eq!(r.header("X-Request-Id"), None);
    let r = get(&s, "/participation/v1/").await;
    assert_eq!(
        (r.status, r.header("Location")),
        (302, Some("/participation/v1/channels"))
    );
}

#[tokio::test]
async fn invalid_channel_ids_are_400_and_non_json_accept_is_406() {
    let s = plain().await;
    let r = get(&s, "/participation/v1/channels/My_Channel").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error(),
        "invalid channel ID: 'My_Channel' contains illegal characters"
    );
    let long = format!("/participation/v1/channels/{}", "a".repeat(250));
    let r = get(&s, &long).await;
    assert_eq!(
        r.error(),
        "invalid channel ID: channel ID illegal, cannot be longer than 249"
    );
    let r = call(
        &s,
        "DELETE",
        "/participation/v1/channels/My_Channel",
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 400);

    let r = call(
        &s,
        "GET",
        "/participation/v1/channels",
        &[("Accept", "text/html")],
        b"",
    )
    .await;
    assert_eq!(r.status, 406);
    assert_eq!(r.error(), "response Content-Type is application/json only");
    let r = call(
        &s,
        "GET",
        "/participation/v1/channels",
        &[("Accept", "text/html, */*;q=0.1")],
        b"",
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn when_disabled_every_route_answers_503() {
    let s = start(
        ApiSettings {
            enabled: false,
            ..ENABLED
        },
        None,
    )
    .await;
    for (method, path) in [
        ("GET", "/participation/v1/channels"),
        ("GET", "/participation/v1/channels/mychannel"),
        ("POST", "/participation/v1/channels"),
        ("DELETE", "/participation/v1/channels/mychannel"),
        ("GET", "/participation/v1/"),
    ] {
        let r = call(&s, method, path, &[], b"").await;
        assert_eq!(r.status, 503, "{method} {path}");
        assert_eq!(r.error(), "channel participation API is disabled");
    }
    assert_eq!(get(&s, "/elsewhere").await.status, 404);
}

#[test]
fn participation_errors_map_to_fabric_statuses() {
    use ParticipationError as E;
    let cases = [
        (E::NotFound, 404, None),
        (E::PendingRemoval, 409, None),
        (E::AlreadyExists, 405, Some("GET, DELETE")),
        (E::SystemChannelExists, 405, Some("GET")),
        (E::AppChannelsExist, 403, None),
        (E::RemovalFailure, 500, None),
        (E::BadRequest("x".into()), 400, None),
        (E::Internal("x".into()), 500, None),
    ];
    for (e, status, allow) in cases {
        assert_eq!(e.status().as_u16(), status, "{e:?}");
        assert_eq!(e.allow(), allow, "{e:?}");
    }
}

#[test]
fn channel_info_serializes_with_fabric_names_and_values() {
    let info = ChannelInfo {
        consensus_relation: ConsensusRelation::ConfigTracker,
        status: Status::OnBoarding,
        ..ChannelInfo::active("c", 2)
    };
    assert_eq!(
        serde_json::to_value(&info).unwrap(),
        json!({"name": "c", "url": "", "consensusRelation": "config-tracker",
               "status": "onboarding", "height": 2})
    );
    let back: ChannelList =
        serde_json::from_str(r#"{"systemChannel":null,"channels":null}"#).unwrap();
    assert_eq!(back, ChannelList::default());
}

// ---- TLS ----

fn admin_config(org: &Org, client_cas: &[String], enabled: bool, client_auth: bool) -> Admin {
    let mut admin = Admin {
        listen_address: "127.0.0.1:0".into(),
        ..Admin::default()
    };
    admin.tls.enabled = enabled;
    admin.tls.certificate = org.tls("orderer", "server.crt");
    admin.tls.private_key = org.tls("orderer", "server.key");
    admin.tls.client_auth_required = client_auth;
    admin.tls.client_root_cas = client_cas.to_vec();
    admin
}

fn client_config(ca: &str, identity: Option<(&str, &str)>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(cert)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    }
}

async fn tls_get(
    addr: SocketAddr,
    config: rustls::ClientConfig,
    path: &str,
) -> std::io::Result<Resp> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await?;
    let stream = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    exchange(stream, "GET", path, &[], b"").await
}

#[tokio::test]
async fn mutual_tls_serves_trusted_clients_and_refuses_others_at_the_handshake() {
    let server_org = Org::new("OrdererMSP");
    let other_org = Org::new("OtherMSP");
    let admin = admin_config(
        &server_org,
        &[server_org.tls("admin", "ca.crt")],
        true,
        true,
    );
    let tls = load_tls(&admin).unwrap();
    assert!(tls.is_some());
    let s = start(ENABLED, tls).await;
    let ca = server_org.tls("orderer", "ca.crt");

    let trusted = client_config(
        &ca,
        Some((
            &server_org.tls("admin", "server.crt"),
            &server_org.tls("admin", "server.key"),
        )),
    );
    let r = tls_get(s.addr, trusted, "/participation/v1/channels")
        .await
        .unwrap();
    assert_eq!(r.status, 200);

    let untrusted = client_config(
        &ca,
        Some((
            &other_org.tls("admin", "server.crt"),
            &other_org.tls("admin", "server.key"),
        )),
    );
    let r = tls_get(s.addr, untrusted, "/participation/v1/channels").await;
    assert!(
        r.is_err(),
        "an untrusted client certificate was served: {r:?}"
    );
    let r = tls_get(
        s.addr,
        client_config(&ca, None),
        "/participation/v1/channels",
    )
    .await;
    assert!(
        r.is_err(),
        "a client without a certificate was served: {r:?}"
    );
}

#[test]
fn admin_tls_without_client_auth_is_refused_naming_the_key() {
    let org = Org::new("OrdererMSP");
    let e = load_tls(&admin_config(&org, &[], true, false)).unwrap_err();
    assert!(
        e.to_string().contains("Admin.TLS.ClientAuthRequired"),
        "{e}"
    );
    assert!(
        load_tls(&admin_config(&org, &[], false, false))
            .unwrap()
            .is_none()
    );
    let e = load_tls(&admin_config(&org, &[], true, true)).unwrap_err();
    assert!(
        format!("{e:#}").contains("Admin.TLS.ClientRootCAs"),
        "{e:#}"
    );
}

#[test]
fn admin_section_validation_requires_client_auth_with_tls() {
    use orderer_api::config::{Problems, Section};
    let org = Org::new("OrdererMSP");
    let mut p = Problems::default();
    admin_config(&org, &[org.tls("admin", "ca.crt")], true, false).validate(&mut p);
    assert!(
        p.problems
            .iter()
            .any(|x| x.key == "Admin.TLS.ClientAuthRequired"),
        "{p:?}"
    );
    let mut p = Problems::default();
    admin_config(&org, &[org.tls("admin", "ca.crt")], true, true).validate(&mut p);
    assert!(p.problems.is_empty(), "{p:?}");
}

#[tokio::test]
async fn a_busy_port_is_an_error_naming_admin_listen_address() {
    let s = plain().await;
    let (_t, shutdown) = shutdown_pair();
    let e = serve(
        &s.addr.to_string(),
        None,
        Arc::new(FakeParticipation::new()),
        ENABLED,
        shutdown,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("Admin.ListenAddress"), "{e}");
}

// ---- Fabric's osnadmin ----

/// Fabric's `bin/` with `osnadmin`, or `None` (said once) without `FABRIC_BIN`; under
/// CI a missing `FABRIC_BIN` fails.
fn fabric_bin() -> Option<PathBuf> {
    orderer_testkit::fabric::fabric_bin(&["osnadmin"], &[])
}

/// Runs `osnadmin args...` and returns its exit code and its output.
async fn osnadmin(bin: &Path, args: Vec<String>) -> (i32, String) {
    let bin = bin.join("osnadmin");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&bin)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", bin.display()))
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// osnadmin's output: `Status: N` then the indented JSON body, if any.
fn parse_output(text: &str) -> (u16, Option<Value>) {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let status = first
        .strip_prefix("Status: ")
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no status in osnadmin output {text:?}"));
    let body = rest.trim();
    (
        status,
        (!body.is_empty()).then(|| serde_json::from_str(body).unwrap()),
    )
}

async fn osnadmin_session(bin: &Path, s: &Server, tls_flags: Vec<String>, block_file: &Path) {
    let run = |args: &[&str]| {
        let mut all = vec!["-o".to_owned(), s.addr.to_string()];
        all.extend(tls_flags.iter().cloned());
        all.extend(args.iter().map(|a| a.to_string()));
        osnadmin(bin, all)
    };
    let (code, out) = run(&["channel", "list"]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        parse_output(&out),
        (200, Some(json!({"systemChannel": null, "channels": null})))
    );

    let block = block_file.to_string_lossy().into_owned();
    let (code, out) = run(&["channel", "join", "-c", "mychannel", "-b", &block]).await;
    assert_eq!(code, 0, "{out}");
    let info = json!({"name": "mychannel", "url": "/participation/v1/channels/mychannel",
                      "consensusRelation": "other", "status": "active", "height": 1});
    assert_eq!(parse_output(&out), (201, Some(info.clone())));

    let (code, out) = run(&["channel", "join", "-c", "mychannel", "-b", &block]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        parse_output(&out),
        (
            405,
            Some(json!({"error": "cannot join: channel already exists"}))
        )
    );

    let (_, out) = run(&["channel", "list"]).await;
    assert_eq!(
        parse_output(&out).1,
        Some(json!({"systemChannel": null, "channels": [
            {"name": "mychannel", "url": "/participation/v1/channels/mychannel"}]}))
    );
    let (code, out) = run(&["channel", "list", "-c", "mychannel"]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(parse_output(&out), (200, Some(info)));

    let (code, out) = run(&["channel", "remove", "-c", "mychannel"]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(parse_output(&out), (204, None));
    let (_, out) = run(&["channel", "list", "-c", "mychannel"]).await;
    assert_eq!(
        parse_output(&out),
        (404, Some(json!({"error": "channel does not exist"})))
    );
}

#[tokio::test]
async fn fabric_osnadmin_lists_joins_and_removes_over_mutual_tls() {
    let Some(bin) = fabric_bin() else { return };
    let org = Org::new("OrdererMSP");
    let block_file = org.root.join("mychannel.block");
    std::fs::write(&block_file, org.genesis("mychannel")).unwrap();
    let admin = admin_config(&org, &[org.tls("admin", "ca.crt")], true, true);
    let s = start(ENABLED, load_tls(&admin).unwrap()).await;
    let flags = vec![
        "--ca-file".to_owned(),
        org.tls("orderer", "ca.crt"),
        "--client-cert".into(),
        org.tls("admin", "server.crt"),
        "--client-key".into(),
        org.tls("admin", "server.key"),
    ];
    osnadmin_session(&bin, &s, flags, &block_file).await;
    assert_eq!(s.fake.joined().len(), 1);

    // A client certificate from another CA never gets an HTTP answer.
    let other = Org::new("OtherMSP");
    let mut args = vec![
        "-o".to_owned(),
        s.addr.to_string(),
        "--ca-file".into(),
        org.tls("orderer", "ca.crt"),
    ];
    args.extend([
        "--client-cert".into(),
        other.tls("admin", "server.crt"),
        "--client-key".into(),
        other.tls("admin", "server.key"),
    ]);
    args.extend(["channel".into(), "list".into()]);
    let (code, out) = osnadmin(&bin, args).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("Error: "), "{out}");
}

#[tokio::test]
async fn fabric_osnadmin_works_over_plain_http_without_tls_flags() {
    let Some(bin) = fabric_bin() else { return };
    let org = Org::new("OrdererMSP");
    let block_file = org.root.join("mychannel.block");
    std::fs::write(&block_file, org.genesis("mychannel")).unwrap();
    let s = plain().await;
    osnadmin_session(&bin, &s, Vec::new(), &block_file).await;
}

//! Security of a running node: who may broadcast and deliver (MSP identities,
//! signatures, Writers/Readers, timestamps), TLS and mutual TLS with Fabric's
//! tls_cert_hash binding, signed blocks, and start-time checks of key material.

#![allow(clippy::unwrap_used)]
// Test scenarios read top to bottom; the length limit is for production code.
#![allow(clippy::too_many_lines)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use common::{TestNode, test_config};
use orderer_api::proto::common::{
    ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader, Status,
};
use orderer_cli::broadcast::broadcast_one;
use orderer_cli::client::{TlsFiles, connect, connect_with};
use orderer_cli::deliver::{DeliverOutcome, DeliverRequest, SignatureChecker, deliver};
use orderer_cli::envelopes::{Position, Signer, sample};
use orderer_msp::generate::{Authority, Usage, Validity};
use orderer_msp::{Msp, SigningIdentity, flip_s};
use orderer_node::config::{Config, Organization};
use orderer_node::consenters::Consenters;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A second organization, `Org2MSP`, under its own CA, written to `dir/msp`.
struct Org2 {
    ca: Authority,
    msp_dir: PathBuf,
}

const ORG2: &str = "Org2MSP";

impl Org2 {
    fn new(dir: &Path) -> Org2 {
        let ca = Authority::root("ca.org2", ORG2, Validity::days(30)).unwrap();
        let msp_dir = dir.join("org2-msp");
        std::fs::create_dir_all(msp_dir.join("cacerts")).unwrap();
        std::fs::write(msp_dir.join("cacerts/ca.pem"), ca.cert_pem()).unwrap();
        // Fabric requires an MSP to name its administrators (admincerts, or NodeOUs).
        let (admin, _) = ca
            .issue("admin", ORG2, Validity::days(30), Usage::Sign)
            .unwrap();
        std::fs::create_dir_all(msp_dir.join("admincerts")).unwrap();
        std::fs::write(msp_dir.join("admincerts/admin.pem"), admin).unwrap();
        Org2 { ca, msp_dir }
    }

    fn member(&self, validity: Validity) -> SigningIdentity {
        let (cert, key) = self.ca.issue("user1", ORG2, validity, Usage::Sign).unwrap();
        SigningIdentity::from_pem(ORG2, cert.as_bytes(), key.as_bytes()).unwrap()
    }

    fn organization(&self) -> Organization {
        Organization {
            name: "Org2".into(),
            id: ORG2.into(),
            msp_dir: self.msp_dir.display().to_string(),
        }
    }
}

/// Sample config plus Org2: SampleOrg writes and reads, Org2 only reads.
fn two_org_config(dir: &Path, org2: &Org2) -> Config {
    let mut config = test_config(dir, &[]);
    config.organizations.push(org2.organization());
    let channel = &mut config.channels[0];
    channel.writers = Some(vec!["SampleOrg".into()]);
    channel.readers = Some(vec!["SampleOrg".into(), "Org2".into()]);
    config
}

fn now_timestamp(offset_secs: i64) -> prost_types::Timestamp {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    prost_types::Timestamp {
        seconds: now.as_secs() as i64 + offset_secs,
        nanos: 0,
    }
}

/// An envelope with every header field chosen by the test, signed by `signer` over
/// the payload (or over `sign_over` instead, for a wrong signature).
fn envelope(
    signer: &SigningIdentity,
    creator: Bytes,
    header_type: HeaderType,
    timestamp: Option<prost_types::Timestamp>,
    data: Bytes,
    sign_over: Option<&[u8]>,
) -> Envelope {
    let channel_header = ChannelHeader {
        r#type: header_type as i32,
        channel_id: "mychannel".into(),
        tx_id: format!("tx-{}", rand_suffix()),
        timestamp,
        ..Default::default()
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header.encode_to_vec().into(),
            signature_header: SignatureHeader {
                creator,
                nonce: Bytes::copy_from_slice(&signer.nonce().unwrap()),
            }
            .encode_to_vec()
            .into(),
        }),
        data,
    }
    .encode_to_vec();
    let signature = signer.sign(sign_over.unwrap_or(&payload)).unwrap();
    Envelope {
        payload: payload.into(),
        signature: signature.into(),
    }
}

fn rand_suffix() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn sample_identity() -> SigningIdentity {
    SigningIdentity::from_pem(sample::MSP_ID, sample::CERT_PEM, sample::KEY_PEM).unwrap()
}

fn tx(signer: &SigningIdentity) -> Envelope {
    envelope(
        signer,
        signer.serialized().clone(),
        HeaderType::EndorserTransaction,
        Some(now_timestamp(0)),
        Bytes::from_static(b"payload"),
        None,
    )
}

async fn deliver_as(node_addr: &str, signer: &Signer) -> DeliverOutcome {
    let mut client = connect(node_addr).await.unwrap();
    let req = DeliverRequest {
        channel: "mychannel".into(),
        start: Position::Oldest,
        stop: Position::Oldest,
        fail_if_not_ready: false,
    };
    deliver(&mut client, signer, &req, |_| Ok(()))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_identity_or_signature_is_forbidden_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let org2 = Org2::new(dir.path());
    let node = TestNode::start_with(dir.path(), two_org_config(dir.path(), &org2)).await;
    let mut client = node.client().await;
    let me = sample_identity();

    // A foreign CA claiming to be SampleOrg.
    let foreign_ca = Authority::root("ca.evil", "SampleOrg", Validity::days(1)).unwrap();
    let (cert, key) = foreign_ca
        .issue("mallory", "SampleOrg", Validity::days(1), Usage::Sign)
        .unwrap();
    let foreign = SigningIdentity::from_pem("SampleOrg", cert.as_bytes(), key.as_bytes()).unwrap();
    let org2_member = org2.member(Validity::days(1));
    let expired = org2.member(Validity {
        not_before: SystemTime::now() - Duration::from_secs(3 * 86_400),
        not_after: SystemTime::now() - Duration::from_secs(86_400),
    });
    let mut high_s = tx(&me);
    high_s.signature = flip_s(&high_s.signature).unwrap().into();
    let mut unsigned = tx(&me);
    unsigned.signature = Bytes::new();
    let mut unknown_msp_creator =
        orderer_api::proto::msp::SerializedIdentity::decode(org2_member.serialized().clone())
            .unwrap();
    unknown_msp_creator.mspid = "NoSuchMSP".into();
    let mut wrong_msp_creator = unknown_msp_creator.clone();
    wrong_msp_creator.mspid = "SampleOrg".into();

    let cases: Vec<(&str, Envelope, Status, &str)> = vec![
        (
            "no creator",
            envelope(
                &me,
                Bytes::new(),
                HeaderType::EndorserTransaction,
                Some(now_timestamp(0)),
                Bytes::from_static(b"x"),
                None,
            ),
            Status::Forbidden,
            "no creator identity (unsigned)",
        ),
        (
            "no signature",
            unsigned,
            Status::Forbidden,
            "signature 0: invalid signature: the signature is empty",
        ),
        (
            "signature over other bytes",
            envelope(
                &me,
                me.serialized().clone(),
                HeaderType::EndorserTransaction,
                Some(now_timestamp(0)),
                Bytes::from_static(b"x"),
                Some(b"other bytes"),
            ),
            Status::Forbidden,
            "does not verify",
        ),
        (
            "signed by another key than the creator's",
            envelope(
                &foreign,
                me.serialized().clone(),
                HeaderType::EndorserTransaction,
                Some(now_timestamp(0)),
                Bytes::from_static(b"x"),
                None,
            ),
            Status::Forbidden,
            "does not verify",
        ),
        (
            "foreign CA",
            tx(&foreign),
            Status::Forbidden,
            "the identity is not valid for MSP SampleOrg",
        ),
        (
            "expired certificate",
            tx(&expired),
            Status::Forbidden,
            "not valid when the certificate was issued",
        ),
        (
            "high-S signature",
            high_s,
            Status::Forbidden,
            "high S value",
        ),
        (
            "unknown MSP ID",
            envelope(
                &org2_member,
                unknown_msp_creator.encode_to_vec().into(),
                HeaderType::EndorserTransaction,
                Some(now_timestamp(0)),
                Bytes::from_static(b"x"),
                None,
            ),
            Status::Forbidden,
            "MSP \"NoSuchMSP\" is not defined on the channel",
        ),
        (
            "wrong MSP ID for the certificate",
            envelope(
                &org2_member,
                wrong_msp_creator.encode_to_vec().into(),
                HeaderType::EndorserTransaction,
                Some(now_timestamp(0)),
                Bytes::from_static(b"x"),
                None,
            ),
            Status::Forbidden,
            "the identity is not valid for MSP SampleOrg",
        ),
        (
            "not a Writer",
            tx(&org2_member),
            Status::Forbidden,
            "policy /Channel/Writers not satisfied: implicit policy ANY Writers needs 1 of 2 sub-policies, 0 satisfied",
        ),
        (
            "timestamp an hour old",
            envelope(
                &me,
                me.serialized().clone(),
                HeaderType::EndorserTransaction,
                Some(now_timestamp(-3600)),
                Bytes::from_static(b"x"),
                None,
            ),
            Status::BadRequest,
            "s behind the orderer's clock, more than General.Authentication.TimeWindow (15m0s)",
        ),
        (
            "no timestamp",
            envelope(
                &me,
                me.serialized().clone(),
                HeaderType::EndorserTransaction,
                None,
                Bytes::from_static(b"x"),
                None,
            ),
            Status::BadRequest,
            "no timestamp",
        ),
        ("properly signed", tx(&me), Status::Success, ""),
    ];
    let mut wrong = Vec::new();
    for (name, env, status, needle) in cases {
        let (got, info) = broadcast_one(&mut client, env).await.unwrap();
        if got != status || !info.contains(needle) {
            wrong.push(format!("{name}: {got:?} {info:?} lacks {needle:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Deliver: Org2 may read, an unsigned or foreign requester may not.
    let ok = deliver_as(&node.addr(), &Signer::with(org2.member(Validity::days(1)))).await;
    assert_eq!(ok.status, Some(Status::Success), "{:?}", ok.reason);
    for (name, signer, needle) in [
        ("unsigned", Signer::unsigned(), "no creator identity"),
        (
            "foreign",
            Signer::with(foreign),
            "was not issued by a CA of the MSP",
        ),
        (
            "expired",
            Signer::with(expired),
            "not valid when the certificate was issued",
        ),
    ] {
        let out = deliver_as(&node.addr(), &signer).await;
        assert_eq!(out.status, Some(Status::Forbidden), "{name}");
        let reason = out.reason.unwrap_or_default();
        assert!(reason.contains(needle), "{name}: {reason:?}");
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_are_enforced_on_deliver() {
    let dir = tempfile::tempdir().unwrap();
    let org2 = Org2::new(dir.path());
    let mut config = two_org_config(dir.path(), &org2);
    config.channels[0].readers = Some(vec!["SampleOrg".into()]);
    let node = TestNode::start_with(dir.path(), config).await;
    let out = deliver_as(&node.addr(), &Signer::with(org2.member(Validity::days(1)))).await;
    assert_eq!(out.status, Some(Status::Forbidden));
    assert!(
        out.reason
            .unwrap_or_default()
            .contains("policy /Channel/Readers not satisfied"),
    );
    let out = deliver_as(&node.addr(), &Signer::sample().unwrap()).await;
    assert_eq!(out.status, Some(Status::Success));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_block_after_genesis_carries_a_valid_orderer_signature() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(
        dir.path(),
        &[("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "3")],
    )
    .await;
    let mut client = node.client().await;
    let signer = Signer::sample().unwrap();
    for i in 0..9 {
        let (status, info) = broadcast_one(
            &mut client,
            signer.transaction("mychannel", i, 1024).unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(status, Status::Success, "{info}");
    }
    let checker = SignatureChecker::new(Msp::from_pem("SampleOrg", sample::CA_PEM, b"").unwrap());
    let mut blocks = Vec::new();
    let req = DeliverRequest {
        channel: "mychannel".into(),
        start: Position::Oldest,
        stop: Position::Number(3),
        fail_if_not_ready: false,
    };
    let out = deliver(&mut client, &signer, &req, |b| {
        blocks.push(b);
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(out.status, Some(Status::Success));
    assert_eq!(
        checker.check(&blocks[0]).unwrap(),
        0,
        "the genesis block is unsigned"
    );
    for b in &blocks[1..] {
        assert_eq!(checker.check(b).unwrap(), 1);
    }
    // Tampering with the header or the signed metadata breaks the signature.
    let mut tampered = blocks[2].clone();
    tampered.header.as_mut().unwrap().number = 7;
    assert!(
        checker
            .check(&tampered)
            .unwrap_err()
            .contains("does not verify")
    );
    // Another organization's CA does not vouch for this orderer.
    let other = Authority::root("ca.other", "SampleOrg", Validity::days(1)).unwrap();
    let stranger = SignatureChecker::new(
        Msp::from_pem("SampleOrg", other.cert_pem().as_bytes(), b"").unwrap(),
    );
    assert!(
        stranger
            .check(&blocks[1])
            .unwrap_err()
            .contains("signer refused")
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipping_signature_checks_accepts_unsigned_envelopes() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), &[]);
    config.general.authentication.skip_signature_checks = true;
    let node = TestNode::start_with(dir.path(), config).await;
    let mut client = node.client().await;
    let env = Signer::unsigned().transaction("mychannel", 1, 300).unwrap();
    let (status, info) = broadcast_one(&mut client, env).await.unwrap();
    assert_eq!(status, Status::Success, "{info}");
    let out = deliver_as(&node.addr(), &Signer::unsigned()).await;
    assert_eq!(out.status, Some(Status::Success));
    node.stop().await;
}

fn sample_tls(config: &Config) -> TlsFiles {
    TlsFiles {
        ca: Some(config.general.tls.root_cas[0].clone().into()),
        cert: None,
        key: None,
    }
}

fn mutual_tls(config: &Config) -> TlsFiles {
    TlsFiles {
        cert: Some(config.general.tls.certificate.clone().into()),
        key: Some(config.general.tls.private_key.clone().into()),
        ..sample_tls(config)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_listener_refuses_plaintext_and_serves_tls_clients() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), &[]);
    config.general.tls.enabled = true;
    let tls = sample_tls(&config).load().unwrap().unwrap();
    let node = TestNode::start_with(dir.path(), config).await;
    let addr = node.addr();

    let plaintext = async {
        let mut c = connect(&addr).await?;
        broadcast_one(
            &mut c,
            orderer_cli::envelopes::transaction("mychannel", 1, 1024),
        )
        .await
    }
    .await;
    assert!(plaintext.is_err(), "plaintext was served: {plaintext:?}");

    let mut c = connect_with(&addr, Some(&tls)).await.unwrap();
    let (status, info) = broadcast_one(
        &mut c,
        orderer_cli::envelopes::transaction("mychannel", 1, 1024),
    )
    .await
    .unwrap();
    assert_eq!(status, Status::Success, "{info}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_refuses_clients_without_a_certificate_and_binds_deliver_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), &[]);
    config.general.tls.enabled = true;
    config.general.tls.client_auth_required = true;
    let server_only = sample_tls(&config).load().unwrap().unwrap();
    let mutual = mutual_tls(&config).load().unwrap().unwrap();
    let cert_der = mutual.cert_der.clone().unwrap();
    // A client certificate from a CA the server does not trust.
    let rogue_ca = Authority::root("rogue", "Rogue", Validity::days(1)).unwrap();
    let (rogue_cert, rogue_key) = rogue_ca
        .issue(
            "client",
            "Rogue",
            Validity::days(1),
            Usage::Tls(vec!["localhost".into()]),
        )
        .unwrap();
    std::fs::write(dir.path().join("rogue.crt"), rogue_cert).unwrap();
    std::fs::write(dir.path().join("rogue.key"), rogue_key).unwrap();
    let rogue = TlsFiles {
        cert: Some(dir.path().join("rogue.crt")),
        key: Some(dir.path().join("rogue.key")),
        ..sample_tls(&config)
    }
    .load()
    .unwrap()
    .unwrap();
    let node = TestNode::start_with(dir.path(), config).await;
    let addr = node.addr();

    for (name, tls) in [
        ("no client certificate", &server_only),
        ("untrusted client certificate", &rogue),
    ] {
        let refused = async {
            let mut c = connect_with(&addr, Some(tls)).await?;
            broadcast_one(
                &mut c,
                orderer_cli::envelopes::transaction("mychannel", 1, 1024),
            )
            .await
        }
        .await;
        assert!(refused.is_err(), "{name}: served: {refused:?}");
    }

    let mut c = connect_with(&addr, Some(&mutual)).await.unwrap();
    let (status, info) = broadcast_one(
        &mut c,
        orderer_cli::envelopes::transaction("mychannel", 1, 1024),
    )
    .await
    .unwrap();
    assert_eq!(
        status,
        Status::Success,
        "broadcast needs no binding: {info}"
    );

    let req = DeliverRequest {
        channel: "mychannel".into(),
        start: Position::Oldest,
        stop: Position::Oldest,
        fail_if_not_ready: false,
    };
    let sample = Signer::sample().unwrap();
    for (name, signer, want, needle) in [
        (
            "unbound",
            sample.clone(),
            Status::BadRequest,
            "did not include its TLS certificate hash",
        ),
        (
            "bound to another certificate",
            sample.clone().bind_tls_certificate(b"another certificate"),
            Status::BadRequest,
            "is not the hash of the client's TLS certificate",
        ),
        (
            "bound",
            sample.clone().bind_tls_certificate(&cert_der),
            Status::Success,
            "",
        ),
    ] {
        let out = deliver(&mut c, &signer, &req, |_| Ok(())).await.unwrap();
        assert_eq!(out.status, Some(want), "{name}: {:?}", out.reason);
        assert!(out.reason.unwrap_or_default().contains(needle), "{name}");
    }
    node.stop().await;
}

/// GET `path` over TLS from the operations server; returns the status code.
async fn ops_get(
    addr: &str,
    path: &str,
    ca: &Path,
    client: Option<(&Path, &Path)>,
) -> std::io::Result<u16> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    orderer_node::tls::install_provider();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(cert)
                    .unwrap()
                    .map(|c| c.unwrap())
                    .collect(),
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut response = String::new();
    tls.read_to_string(&mut response).await?;
    Ok(response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operations_listener_speaks_tls_and_guards_metrics_and_logspec() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), &[]);
    let o = &mut config.operations.tls;
    o.enabled = true;
    o.client_auth_required = true;
    let ca = PathBuf::from(&config.general.tls.root_cas[0]);
    let cert = PathBuf::from(&config.general.tls.certificate);
    let key = PathBuf::from(&config.general.tls.private_key);
    let node = TestNode::start_with(dir.path(), config).await;
    let ops = node.ops_addr();

    assert_eq!(ops_get(&ops, "/healthz", &ca, None).await.unwrap(), 200);
    assert_eq!(ops_get(&ops, "/version", &ca, None).await.unwrap(), 200);
    assert_eq!(ops_get(&ops, "/metrics", &ca, None).await.unwrap(), 401);
    assert_eq!(ops_get(&ops, "/logspec", &ca, None).await.unwrap(), 401);
    assert_eq!(
        ops_get(&ops, "/metrics", &ca, Some((&cert, &key)))
            .await
            .unwrap(),
        200
    );
    // Plaintext HTTP gets no answer.
    let mut tcp = tokio::net::TcpStream::connect(&ops).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_key_material_stops_the_start_naming_the_file_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::root("tls", "Org", Validity::days(1)).unwrap();
    let (_, other_key) = ca
        .issue(
            "x",
            "Org",
            Validity::days(1),
            Usage::Tls(vec!["localhost".into()]),
        )
        .unwrap();
    let other_key_path = dir.path().join("other.key");
    std::fs::write(&other_key_path, other_key).unwrap();
    let empty_msp = dir.path().join("empty-msp");
    std::fs::create_dir_all(&empty_msp).unwrap();

    let start_error = |config: Config| async move {
        match orderer_node::start(config, Consenters::builtin()).await {
            Ok(node) => {
                node.shutdown().await.unwrap();
                panic!("the node started")
            }
            Err(e) => format!("{e:#}"),
        }
    };
    let mut mismatched = test_config(dir.path(), &[]);
    mismatched.general.tls.enabled = true;
    mismatched.general.tls.private_key = other_key_path.display().to_string();
    let e = start_error(mismatched).await;
    assert!(
        e.contains("General.TLS.PrivateKey") && e.contains("other.key"),
        "{e}"
    );
    assert!(e.contains("does not belong to the certificate"), "{e}");

    let mut no_identity = test_config(dir.path(), &[]);
    no_identity.general.local_msp_dir = empty_msp.display().to_string();
    let e = start_error(no_identity).await;
    assert!(
        e.contains("General.LocalMSPDir") && e.contains("signcerts"),
        "{e}"
    );

    let mut bad_org = test_config(dir.path(), &[]);
    bad_org.organizations[0].msp_dir = empty_msp.display().to_string();
    let e = start_error(bad_org).await;
    assert!(
        e.contains("Organizations[0]") && e.contains("cacerts"),
        "{e}"
    );
}

/// Peers check every block's signature against `/Channel/Orderer/BlockValidation`: an
/// orderer whose identity cannot satisfy it must not start cutting blocks nobody
/// accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orderer_whose_identity_cannot_sign_valid_blocks_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let org2 = Org2::new(dir.path());
    let (cert, key) = org2
        .ca
        .issue("orderer", ORG2, Validity::days(1), Usage::Sign)
        .unwrap();
    for (sub, name, pem) in [
        ("signcerts", "cert.pem", cert),
        ("keystore", "key.pem", key),
    ] {
        std::fs::create_dir_all(org2.msp_dir.join(sub)).unwrap();
        std::fs::write(org2.msp_dir.join(sub).join(name), pem).unwrap();
    }
    // The orderer is Org2's, which is the channel's ordering organization (a
    // generated channel's is the node's own): its members satisfy BlockValidation.
    let mut config = two_org_config(dir.path(), &org2);
    config.general.local_msp_dir = org2.msp_dir.display().to_string();
    config.general.local_msp_id = ORG2.into();
    let node = orderer_node::start(config.clone(), Consenters::builtin()).await;
    assert!(node.is_ok(), "an orderer org member may sign blocks");
    node.unwrap().shutdown().await.unwrap();

    // An identity of Org2's MSP ID under a CA the channel does not know.
    let foreign = Authority::root("ca.elsewhere", ORG2, Validity::days(1)).unwrap();
    let (cert, key) = foreign
        .issue("orderer", ORG2, Validity::days(1), Usage::Sign)
        .unwrap();
    let foreign_msp = dir.path().join("foreign-msp");
    for (sub, name, pem) in [
        ("signcerts", "cert.pem", cert),
        ("keystore", "key.pem", key),
        ("cacerts", "ca.pem", foreign.cert_pem().to_owned()),
    ] {
        std::fs::create_dir_all(foreign_msp.join(sub)).unwrap();
        std::fs::write(foreign_msp.join(sub).join(name), pem).unwrap();
    }
    config.general.local_msp_dir = foreign_msp.display().to_string();
    let err = match orderer_node::start(config, Consenters::builtin()).await {
        Ok(node) => {
            node.shutdown().await.unwrap();
            panic!("an orderer with an unknown identity started")
        }
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("does not satisfy the channel's /Channel/Orderer/BlockValidation policy"),
        "{err}"
    );
}

/// A Deliver stream outlives nothing it was allowed by: when the requester's
/// certificate expires, the stream ends FORBIDDEN (Fabric's session expiry check).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deliver_stream_ends_when_its_requesters_certificate_expires() {
    let dir = tempfile::tempdir().unwrap();
    let org2 = Org2::new(dir.path());
    let node = TestNode::start_with(dir.path(), two_org_config(dir.path(), &org2)).await;
    let short_lived = org2.member(Validity {
        not_before: SystemTime::now() - Duration::from_secs(600),
        not_after: SystemTime::now() + Duration::from_secs(3),
    });
    // Blocks keep coming while the reader follows the chain.
    let addr = node.addr();
    let writer = tokio::spawn(async move {
        let mut client = connect(&addr).await.unwrap();
        let me = sample_identity();
        for _ in 0..200 {
            let _ = broadcast_one(&mut client, tx(&me)).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let mut client = connect(&node.addr()).await.unwrap();
    let req = DeliverRequest {
        channel: "mychannel".into(),
        start: Position::Oldest,
        stop: Position::Number(u64::MAX),
        fail_if_not_ready: false,
    };
    let out = tokio::time::timeout(
        common::EVENT_TIMEOUT,
        deliver(&mut client, &Signer::with(short_lived), &req, |_| Ok(())),
    )
    .await
    .expect("the stream should end once the certificate expires")
    .unwrap();
    writer.abort();
    assert!(out.blocks >= 1, "blocks were delivered before the expiry");
    assert_eq!(out.status, Some(Status::Forbidden), "{:?}", out.reason);
    let reason = out.reason.unwrap_or_default();
    assert!(
        reason.contains("refused during the stream") && reason.contains("expired at"),
        "{reason}"
    );
    node.stop().await;
}

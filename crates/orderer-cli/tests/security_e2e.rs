//! Security with the real binaries: the sample configuration out of the box, an
//! organization made by `orderer-cli msp new` behind mutual TLS, and the explicit
//! switch that turns signature checks off.

#![allow(clippy::unwrap_used)]
// Test scenarios read top to bottom; the length limit is for production code.
#![allow(clippy::too_many_lines)]

mod common;

use common::{Orderer, cli, ok, stderr, stdout};

#[test]
fn the_sample_configuration_orders_signed_envelopes_and_refuses_unsigned_ones() {
    let dir = tempfile::tempdir().unwrap();
    let orderer = Orderer::start(dir.path(), &[]);
    let out = ok(orderer.cli(&["broadcast", "--count", "20", "--size", "1024"]));
    assert!(out.contains("acked 20 of 20"), "{out}");

    let out = orderer.cli(&["broadcast", "--count", "3", "--unsigned"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("acked 0 of 3 envelopes (FORBIDDEN 3)"),
        "{text}"
    );
    assert!(text.contains("no creator identity (unsigned)"), "{text}");

    let out = ok(orderer.cli(&["deliver", "--verify-signatures", "--quiet"]));
    assert!(out.contains("orderer signatures verified on"), "{out}");
}

#[test]
fn an_organization_from_msp_new_behind_mutual_tls_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let org = dir.path().join("org1");
    let org_s = org.display().to_string();
    let out = ok(cli(&[
        "msp",
        "new",
        "--out",
        &org_s,
        "--mspid",
        "Org1MSP",
        "--identities",
        "orderer,client",
    ]));
    assert!(out.contains("created organization Org1MSP"), "{out}");
    let path = |p: &str| org.join(p).display().to_string();
    ok(cli(&[
        "msp",
        "show",
        "--dir",
        &path("client/msp"),
        "--mspid",
        "Org1MSP",
    ]));

    let orgs = format!("[{{Name=Org1,ID=Org1MSP,MSPDir={}}}]", path("msp"));
    let env = [
        ("ORDERER_ORGANIZATIONS", orgs.as_str()),
        ("ORDERER_GENERAL_LOCALMSPDIR", &path("orderer/msp")),
        ("ORDERER_GENERAL_LOCALMSPID", "Org1MSP"),
        ("ORDERER_GENERAL_TLS_ENABLED", "true"),
        (
            "ORDERER_GENERAL_TLS_PRIVATEKEY",
            &path("orderer/tls/server.key"),
        ),
        (
            "ORDERER_GENERAL_TLS_CERTIFICATE",
            &path("orderer/tls/server.crt"),
        ),
        (
            "ORDERER_GENERAL_TLS_ROOTCAS",
            &format!("[{}]", path("orderer/tls/ca.crt")),
        ),
        ("ORDERER_GENERAL_TLS_CLIENTAUTHREQUIRED", "true"),
        (
            "ORDERER_GENERAL_TLS_CLIENTROOTCAS",
            &format!("[{}]", path("tlsca/tlsca-cert.pem")),
        ),
    ];
    let orderer = Orderer::start(dir.path(), &env);
    let (ca, cert, key) = (
        path("client/tls/ca.crt"),
        path("client/tls/server.crt"),
        path("client/tls/server.key"),
    );
    let tls = [
        "--tls-ca",
        ca.as_str(),
        "--tls-cert",
        cert.as_str(),
        "--tls-key",
        key.as_str(),
    ];
    let id_dir = path("client/msp");
    let id = ["--msp-dir", id_dir.as_str(), "--mspid", "Org1MSP"];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(tls.iter())
            .chain(id.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let run = |args: Vec<String>| orderer.cli(&args.iter().map(String::as_str).collect::<Vec<_>>());

    let out = ok(run(with(&["broadcast", "--count", "50", "--size", "2048"])));
    assert!(out.contains("acked 50 of 50"), "{out}");
    let out = ok(run(with(&[
        "deliver",
        "--quiet",
        "--stop",
        "1",
        "--verify-signatures",
        "--orderer-msp",
        &path("msp"),
        "--orderer-mspid",
        "Org1MSP",
    ])));
    assert!(
        out.contains(
            "holding 51 envelopes; hash chain verified; orderer signatures verified on 1 blocks"
        ),
        "{out}"
    );

    // The sample identity belongs to no organization of this orderer.
    let mut args: Vec<String> = vec!["broadcast".into()];
    args.extend(tls.iter().map(|s| s.to_string()));
    let out = run(args);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("FORBIDDEN: policy /Channel/Writers not satisfied")
            && stdout(&out)
                .contains("creator refused: MSP \"SampleOrg\" is not defined on the channel"),
        "{}",
        stdout(&out)
    );
    // Blocks are not signed by the sample CA.
    let out = run(with(&[
        "deliver",
        "--quiet",
        "--stop",
        "1",
        "--verify-signatures",
    ]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("signature verification failed"),
        "{}",
        stderr(&out)
    );
    // Without TLS, or without a client certificate, nothing is served.
    for tls_args in [&[][..], &["--tls-ca", ca.as_str()][..]] {
        let mut args: Vec<String> = vec!["broadcast".into()];
        args.extend(tls_args.iter().chain(id.iter()).map(|s| s.to_string()));
        let out = run(args.clone());
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
        assert!(
            !stdout(&out).contains("acked 1"),
            "{args:?}: {}",
            stdout(&out)
        );
    }
}

#[test]
fn skipping_signature_checks_warns_at_every_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut orderer = Orderer::start(
        dir.path(),
        &[("ORDERER_GENERAL_AUTHENTICATION_SKIPSIGNATURECHECKS", "true")],
    );
    orderer.wait_for_log("SkipSignatureChecks is true", 1);
    let out = ok(orderer.cli(&["broadcast", "--count", "5", "--unsigned"]));
    assert!(out.contains("acked 5 of 5"), "{out}");
    assert!(orderer.terminate().success());
    orderer.restart();
    orderer.wait_for_log("SkipSignatureChecks is true", 2);
}

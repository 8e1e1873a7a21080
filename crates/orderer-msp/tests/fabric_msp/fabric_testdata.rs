//! Conformance with Fabric's own MSP test data (`msp/testdata` of Fabric v2.5), when a
//! clone of Fabric is at hand (`FABRIC_REPO`, default the local mirror): each directory
//! is read as Fabric's configbuilder reads it, set up, and its signing certificate
//! validated and tested against every role. The expectations are those of Fabric's
//! MSP tests at MSP version 1.4.3 (for data only tested at older versions, what the
//! 1.4.3 rules give, noted at the case).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use orderer_api::policies::Identity;
use orderer_api::proto::common::msp_role::MspRoleType::{self, *};
use orderer_msp::{FabricMsp, SigningIdentity, msp_config_from_dir};

use crate::common::*;

enum Expect {
    /// Setup fails with a message containing this.
    SetupFails(&'static str),
    /// Setup succeeds; the signing certificate is refused with a message containing this.
    Invalid(&'static str),
    /// The signing certificate is valid and satisfies exactly these roles.
    Valid(&'static [MspRoleType]),
}
use Expect::*;

const CASES: &[(&str, Expect)] = &[
    (
        "badadmin",
        SetupFails("admin certificate 1 is not a valid identity"),
    ),
    (
        "badconfigou",
        Invalid("none of the identity's organizational units"),
    ),
    (
        "badconfigoucert",
        SetupFails("is not a root or intermediate CA certificate"),
    ),
    // Fabric refuses this one only because its signing identity expired; a channel MSP
    // has none, and the certificate fails the time check instead (below).
    ("expired", Valid(&[Member])),
    ("expiration", Valid(&[Member, Admin])),
    ("external", Valid(&[Member, Admin])),
    ("intermediate", Valid(&[Member, Admin])),
    ("intermediate2", Valid(&[Member, Admin])),
    ("mspid", Valid(&[Member, Admin])),
    ("nodeouadmin", Valid(&[Member, Peer])),
    ("nodeouadmin2", SetupFails("no administrators")),
    ("nodeouadmin3", SetupFails("no administrators")),
    ("nodeouadminclient", Valid(&[Member, Orderer])),
    // Only client and peer OUs are configured; the signer is an orderer.
    ("nodeouadminclient2", Invalid("no OU that classifies it")),
    ("nodeouorderer", Valid(&[Member, Orderer])),
    ("nodeouorderer2", Valid(&[Member, Peer])),
    ("nodeouorderer3", Valid(&[Member, Peer])),
    // Tested by Fabric at MSP 1.1 only; at 1.4.3 the admin must be a client or admin.
    ("nodeous1", SetupFails("neither a client nor an admin")),
    ("nodeous2", Invalid("no OU that classifies it")),
    ("nodeous3", Valid(&[Member, Peer])),
    // At 1.4.3 admincerts are checked for their OU only, not validated.
    ("nodeous4", Valid(&[Member, Peer])),
    ("nodeous5", Invalid("no OU that classifies it")),
    ("nodeous6", Valid(&[Member, Peer])),
    (
        "nodeous7",
        Invalid("none of the identity's organizational units"),
    ),
    ("nodeous8", SetupFails("neither a client nor an admin")),
    (
        "nodeousbadconf1",
        SetupFails("neither a client nor an admin"),
    ),
    ("nodeousbadconf2", Valid(&[Member, Orderer])),
    ("revocation", Invalid("has been revoked")),
    // The CRL's signature is invalid: it revokes nothing.
    ("revocation2", Valid(&[Member])),
    ("revokedica", SetupFails("has been revoked")),
    ("tls", Valid(&[Member, Admin])),
];

/// Fabric's `msp/testdata`, extracted from the clone, or `None` (with a line saying so).
fn testdata(out: &Path) -> Option<PathBuf> {
    let repo = std::env::var("FABRIC_REPO")
        .unwrap_or_else(|_| "/work/.mirror/hyperledger+fabric/repo".into());
    let archive = std::process::Command::new("git")
        .args(["-C", &repo, "archive", "v2.5.10", "msp/testdata"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let tar = out.join("testdata.tar");
    std::fs::write(&tar, &archive.stdout).ok()?;
    let ok = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(out)
        .status()
        .ok()?
        .success();
    ok.then(|| out.join("msp/testdata"))
}

#[test]
fn fabric_msp_testdata_gives_fabric_results_if_present() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(root) = testdata(tmp.path()) else {
        println!("skipped: no Fabric clone with tag v2.5.10 (set FABRIC_REPO)");
        return;
    };
    for (name, expect) in CASES {
        let dir = root.join(name);
        let config = msp_config_from_dir(&dir, "SampleOrg").unwrap();
        let msp = match (FabricMsp::from_config(&config), expect) {
            (Err(e), SetupFails(why)) => {
                assert!(
                    e.to_string().contains(why),
                    "{name}: {e:?} should contain {why:?}"
                );
                continue;
            }
            (Err(e), _) => panic!("{name}: setup failed: {e}"),
            (Ok(_), SetupFails(_)) => panic!("{name}: setup succeeded"),
            (Ok(m), _) => Arc::new(m),
        };
        let signcert = std::fs::read_dir(dir.join("signcerts"))
            .unwrap()
            .flatten()
            .next()
            .unwrap()
            .path();
        let pem = std::fs::read(&signcert).unwrap();
        let id = match (msp.identity_from_pem(&pem), expect) {
            (Err(e), Invalid(why)) => {
                assert!(
                    e.to_string().contains(why),
                    "{name}: {e:?} should contain {why:?}"
                );
                continue;
            }
            (Err(e), _) => panic!("{name}: signing certificate refused: {e}"),
            (Ok(_), Invalid(_)) => panic!("{name}: signing certificate accepted"),
            (Ok(id), _) => id,
        };
        let Valid(roles) = expect else { unreachable!() };
        for r in [Member, Admin, Client, Peer, Orderer] {
            let result = id.satisfies_principal(&role("SampleOrg", r));
            assert_eq!(
                result.is_ok(),
                roles.contains(&r),
                "{name} as {r:?}: {result:?}"
            );
        }
        let expired = id.check_time(orderer_msp::now()).is_err();
        assert_eq!(expired, *name == "expired", "{name}: time check");
        // Where the keystore holds the key, a signature verifies.
        if let Ok(signer) = SigningIdentity::load(&dir, "SampleOrg") {
            id.verify(b"fabric", &signer.sign(b"fabric").unwrap())
                .unwrap();
        }
    }
    // Fabric's admin-OU identity of nodeouadmin is an admin.
    let dir = root.join("nodeouadmin");
    let msp =
        Arc::new(FabricMsp::from_config(&msp_config_from_dir(&dir, "SampleOrg").unwrap()).unwrap());
    let admin = std::fs::read(dir.join("adm/testadmincert.pem")).unwrap();
    let admin = msp.identity_from_pem(&admin).unwrap();
    admin
        .satisfies_principal(&role("SampleOrg", Admin))
        .unwrap();
    // mspid's signing certificate has a high-S signature: the identity is its canonical
    // form.
    let dir = root.join("mspid");
    let msp =
        Arc::new(FabricMsp::from_config(&msp_config_from_dir(&dir, "SampleOrg").unwrap()).unwrap());
    let pem = std::fs::read_to_string(dir.join("signcerts/peer0-cert.pem")).unwrap();
    let id = msp.identity_from_pem(pem.as_bytes()).unwrap();
    assert_ne!(id.certificate_der(), der(&pem));
    assert!(has_low_s(
        &String::from_utf8(orderer_msp::pem_encode("CERTIFICATE", id.certificate_der())).unwrap()
    ));
}

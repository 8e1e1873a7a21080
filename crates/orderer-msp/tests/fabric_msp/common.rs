//! Builders shared by the channel-MSP tests: organizations, configurations, principals.

use std::sync::Arc;

use bytes::Bytes;
use orderer_api::proto::common::msp_identity_anonymity::MspIdentityAnonymityType;
use orderer_api::proto::common::msp_principal::Classification;
use orderer_api::proto::common::msp_role::MspRoleType;
use orderer_api::proto::common::{
    CombinedPrincipal, MspIdentityAnonymity, MspPrincipal, MspRole, OrganizationUnit,
};
use orderer_api::proto::msp::{
    FabricMspConfig, FabricNodeOUs, FabricOuIdentifier, SerializedIdentity,
};
use orderer_msp::generate::{Authority, KeyKind, Validity};
use orderer_msp::{FabricIdentity, FabricMsp, SigningIdentity};
use prost::Message;

pub(crate) const ORG1: &str = "Org1MSP";

pub(crate) fn v() -> Validity {
    Validity::days(365)
}

pub(crate) fn b(pem: &str) -> Bytes {
    Bytes::copy_from_slice(pem.as_bytes())
}

/// A configuration with these roots and nothing else.
pub(crate) fn config(name: &str, roots: &[&str]) -> FabricMspConfig {
    FabricMspConfig {
        name: name.into(),
        root_certs: roots.iter().map(|r| b(r)).collect(),
        ..Default::default()
    }
}

/// NodeOUs client/peer/admin/orderer, bound to `cert` when given.
pub(crate) fn node_ous(cert: Option<&str>) -> FabricNodeOUs {
    let ou = |name: &str| {
        Some(FabricOuIdentifier {
            certificate: cert.map(b).unwrap_or_default(),
            organizational_unit_identifier: name.into(),
        })
    };
    FabricNodeOUs {
        enable: true,
        client_ou_identifier: ou("client"),
        peer_ou_identifier: ou("peer"),
        admin_ou_identifier: ou("admin"),
        orderer_ou_identifier: ou("orderer"),
    }
}

/// An organization: its CA and a configuration (an admin certificate without NodeOUs,
/// NodeOUs without admin certificates).
pub(crate) struct Org {
    pub(crate) ca: Authority,
    pub(crate) config: FabricMspConfig,
}

impl Org {
    pub(crate) fn new(name: &str, nodeous: bool) -> Org {
        Org::with_key(name, nodeous, KeyKind::P256)
    }

    pub(crate) fn with_key(name: &str, nodeous: bool, kind: KeyKind) -> Org {
        let ca = Authority::root_with_key(&format!("ca.{name}"), name, v(), kind).unwrap();
        let mut config = config(name, &[ca.cert_pem()]);
        if nodeous {
            config.fabric_node_ous = Some(node_ous(None));
        } else {
            let (admin, _) = ca.issue_with_ous("admin", name, &[], v(), kind).unwrap();
            config.admins = vec![b(&admin)];
        }
        Org { ca, config }
    }

    pub(crate) fn msp(&self) -> Arc<FabricMsp> {
        Arc::new(FabricMsp::from_config(&self.config).unwrap())
    }

    /// A new identity with these OUs: `(certificate, key)` PEM.
    pub(crate) fn issue(&self, cn: &str, ous: &[&str]) -> (String, String) {
        self.ca
            .issue_with_ous(cn, &self.config.name, ous, v(), KeyKind::P256)
            .unwrap()
    }

    pub(crate) fn admin_pem(&self) -> String {
        String::from_utf8(self.config.admins[0].to_vec()).unwrap()
    }
}

pub(crate) fn serialized(mspid: &str, cert_pem: &str) -> Vec<u8> {
    SerializedIdentity {
        mspid: mspid.into(),
        id_bytes: b(cert_pem),
    }
    .encode_to_vec()
}

pub(crate) fn identity(msp: &Arc<FabricMsp>, cert_pem: &str) -> FabricIdentity {
    msp.identity_from_pem(cert_pem.as_bytes()).unwrap()
}

pub(crate) fn refused(msp: &Arc<FabricMsp>, cert_pem: &str) -> String {
    msp.identity_from_pem(cert_pem.as_bytes())
        .unwrap_err()
        .to_string()
}

/// A P-256 signature as Fabric's signers make it (SHA-256, DER, low S).
pub(crate) fn sign(msp_id: &str, cert_pem: &str, key_pem: &str, msg: &[u8]) -> Vec<u8> {
    SigningIdentity::from_pem(msp_id, cert_pem.as_bytes(), key_pem.as_bytes())
        .unwrap()
        .sign(msg)
        .unwrap()
}

fn principal(classification: Classification, message: impl Message) -> MspPrincipal {
    MspPrincipal {
        principal_classification: classification as i32,
        principal: message.encode_to_vec().into(),
    }
}

pub(crate) fn role(msp: &str, role: MspRoleType) -> MspPrincipal {
    principal(
        Classification::Role,
        MspRole {
            msp_identifier: msp.into(),
            role: role as i32,
        },
    )
}

pub(crate) fn ou(msp: &str, ou: &str, certifiers: &[u8]) -> MspPrincipal {
    principal(
        Classification::OrganizationUnit,
        OrganizationUnit {
            msp_identifier: msp.into(),
            organizational_unit_identifier: ou.into(),
            certifiers_identifier: Bytes::copy_from_slice(certifiers),
        },
    )
}

pub(crate) fn identity_principal(msp: &str, cert_pem: &str) -> MspPrincipal {
    MspPrincipal {
        principal_classification: Classification::Identity as i32,
        principal: serialized(msp, cert_pem).into(),
    }
}

pub(crate) fn anonymity(t: MspIdentityAnonymityType) -> MspPrincipal {
    principal(
        Classification::Anonymity,
        MspIdentityAnonymity {
            anonymity_type: t as i32,
        },
    )
}

pub(crate) fn combined(parts: Vec<MspPrincipal>) -> MspPrincipal {
    principal(
        Classification::Combined,
        CombinedPrincipal { principals: parts },
    )
}

/// Signs `msg` with a PEM key using `openssl dgst -<digest>` (ring signs P-384 only
/// with SHA-384); `None` when openssl is not installed.
pub(crate) fn openssl_sign(key_pem: &str, digest: &str, msg: &[u8]) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let data = dir.path().join("data");
    let sig = dir.path().join("sig");
    std::fs::write(&key, key_pem).unwrap();
    std::fs::write(&data, msg).unwrap();
    let status = std::process::Command::new("openssl")
        .args(["dgst", &format!("-{digest}"), "-sign"])
        .arg(&key)
        .arg("-out")
        .arg(&sig)
        .arg(&data)
        .stderr(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => Some(std::fs::read(&sig).unwrap()),
        _ => {
            println!("skipped: openssl is not available to sign with P-384 over SHA-256");
            None
        }
    }
}

/// (header length, contents length) of the DER element at the start of `d`.
fn tlv(d: &[u8]) -> (usize, usize) {
    let l = usize::from(d[1]);
    if l < 0x80 {
        return (2, l);
    }
    let n = l & 0x7f;
    let len = d[2..2 + n]
        .iter()
        .fold(0usize, |a, b| (a << 8) | usize::from(*b));
    (2 + n, len)
}

fn push(tag: u8, contents: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(contents);
}

/// (tbs and algorithm elements, signature) of a DER certificate.
fn split_cert(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (h, _) = tlv(der);
    let inner = &der[h..];
    let (th, tl) = tlv(inner);
    let rest = &inner[th + tl..];
    let (ah, al) = tlv(rest);
    let signed = inner[..th + tl + ah + al].to_vec();
    let bits = &rest[ah + al..];
    let (bh, bl) = tlv(bits);
    (signed, bits[bh + 1..bh + bl].to_vec())
}

fn first_der(pem: &str) -> Vec<u8> {
    orderer_msp::pem_certificates(pem.as_bytes())
        .unwrap()
        .remove(0)
}

/// The certificate PEM with the other S of its ECDSA signature (equally valid; the
/// form Fabric rewrites away). `curve` is the issuer's.
pub(crate) fn flip_cert_signature(cert_pem: &str, curve: orderer_msp::EcCurve) -> String {
    let (mut body, sig) = split_cert(&first_der(cert_pem));
    let mut bits = vec![0u8];
    bits.extend(orderer_msp::flip_s_on(curve, &sig).unwrap());
    push(0x03, &bits, &mut body);
    let mut out = Vec::new();
    push(0x30, &body, &mut out);
    String::from_utf8(orderer_msp::pem_encode("CERTIFICATE", &out)).unwrap()
}

/// S of a DER ECDSA signature, as 32 big-endian bytes.
fn s_of(sig: &[u8]) -> Vec<u8> {
    let (h, _) = tlv(sig);
    let inner = &sig[h..];
    let (rh, rl) = tlv(inner);
    let s_el = &inner[rh + rl..];
    let (sh, sl) = tlv(s_el);
    let s = &s_el[sh..sh + sl];
    let s = if s[0] == 0 { &s[1..] } else { s };
    let mut v = vec![0u8; 32 - s.len()];
    v.extend_from_slice(s);
    v
}

/// Whether the certificate's ECDSA signature has a low S (P-256 issuer): of S and
/// n - S, the low one is the smaller.
pub(crate) fn has_low_s(cert_pem: &str) -> bool {
    let (_, sig) = split_cert(&first_der(cert_pem));
    let flipped = orderer_msp::flip_s_on(orderer_msp::EcCurve::P256, &sig).unwrap();
    s_of(&sig) <= s_of(&flipped)
}

/// The DER of the first certificate of a PEM text.
pub(crate) fn der(pem: &str) -> Vec<u8> {
    first_der(pem)
}

//! New CAs and identities in Fabric's MSP layout (feature `generate`): what
//! `orderer-cli msp new` writes, and what tests build foreign CAs and expired
//! certificates with. Keys are ECDSA P-256, like `cryptogen`'s, unless asked
//! otherwise. Identities may carry OUs (Fabric's NodeOUs), CAs issue CRLs, and tests
//! can sign certificates of their own making with [`Authority::sign`].

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateRevocationListParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyIdMethod, KeyUsagePurpose, RevokedCertParams, SanType, SerialNumber,
};
pub use rcgen::{CertificateParams, KeyPair};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::NodeRole;
use crate::cert::{CertError, X509ParseError, first_pem_cert};

/// When a certificate is valid.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

impl Validity {
    /// From an hour ago (clock skew) for `days` days.
    pub fn days(days: u32) -> Self {
        let now = SystemTime::now();
        Validity {
            not_before: now - Duration::from_secs(3600),
            not_after: now + Duration::from_secs(u64::from(days) * 86_400),
        }
    }
}

/// What a certificate is for.
#[derive(Debug, Clone)]
pub enum Usage {
    /// An MSP identity: signs envelopes.
    Sign,
    /// A TLS server and client certificate for these host names and IP addresses.
    Tls(Vec<String>),
}

/// The kind of key of a new certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA P-256 (cryptogen's and Fabric CA's default).
    #[default]
    P256,
    /// ECDSA P-384.
    P384,
}

impl KeyKind {
    /// A new key of this kind.
    pub fn generate(self) -> Result<KeyPair, GenerateError> {
        let alg = match self {
            KeyKind::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyKind::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        };
        KeyPair::generate_for(alg).map_err(GenerateError::from)
    }
}

/// A certificate authority with its key.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    key_pem: String,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority").finish_non_exhaustive()
    }
}

/// Why a CA, an identity or an MSP directory could not be made.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// rcgen refused a key, parameters or a signature.
    #[error(transparent)]
    Rcgen(#[from] rcgen::Error),
    #[error("at most {max} OUs per subject")]
    TooManyOus { max: usize },
    #[error(transparent)]
    Certificate(#[from] CertError),
    #[error(transparent)]
    X509(#[from] X509ParseError),
    #[error("{}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Parameters of a certificate named `cn` in organization `org`, with the subject OUs
/// `ous` (at most two: rcgen names hold one value per attribute type, and a second
/// OU is written under the OU's OID as a custom type).
pub fn identity_params(
    cn: &str,
    org: &str,
    ous: &[&str],
    validity: Validity,
) -> Result<CertificateParams, GenerateError> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(GenerateError::from)?;
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name.push(DnType::OrganizationName, org);
    let ou_types = [
        DnType::OrganizationalUnitName,
        DnType::CustomDnType(vec![2, 5, 4, 11]),
    ];
    if ous.len() > ou_types.len() {
        return Err(GenerateError::TooManyOus {
            max: ou_types.len(),
        });
    }
    for (ty, ou) in ou_types.into_iter().zip(ous) {
        p.distinguished_name.push(ty, *ou);
    }
    p.not_before = validity.not_before.into();
    p.not_after = validity.not_after.into();
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    Ok(p)
}

fn base_params(
    cn: &str,
    org: &str,
    validity: Validity,
) -> Result<CertificateParams, GenerateError> {
    identity_params(cn, org, &[], validity)
}

/// Parameters of a CA certificate (CA:true, may sign certificates and CRLs).
pub fn ca_params(
    cn: &str,
    org: &str,
    validity: Validity,
) -> Result<CertificateParams, GenerateError> {
    let mut p = base_params(cn, org, validity)?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

impl Authority {
    /// A self-signed root CA.
    pub fn root(cn: &str, org: &str, validity: Validity) -> Result<Self, GenerateError> {
        Self::root_with_key(cn, org, validity, KeyKind::P256)
    }

    /// A self-signed root CA with a key of `kind`.
    pub fn root_with_key(
        cn: &str,
        org: &str,
        validity: Validity,
        kind: KeyKind,
    ) -> Result<Self, GenerateError> {
        Self::custom_root(ca_params(cn, org, validity)?, kind.generate()?)
    }

    /// A self-signed CA from parameters of the caller's making.
    pub fn custom_root(params: CertificateParams, key: KeyPair) -> Result<Self, GenerateError> {
        let cert = params.self_signed(&key).map_err(GenerateError::from)?;
        Ok(Authority {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// An intermediate CA issued by this one.
    pub fn intermediate(
        &self,
        cn: &str,
        org: &str,
        validity: Validity,
    ) -> Result<Self, GenerateError> {
        self.custom_intermediate(
            ca_params(cn, org, validity)?,
            KeyPair::generate().map_err(GenerateError::from)?,
        )
    }

    /// A CA issued by this one from parameters of the caller's making.
    pub fn custom_intermediate(
        &self,
        params: CertificateParams,
        key: KeyPair,
    ) -> Result<Self, GenerateError> {
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(GenerateError::from)?;
        Ok(Authority {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// A certificate for `key` from parameters of the caller's making, PEM.
    pub fn sign(&self, params: &CertificateParams, key: &KeyPair) -> Result<String, GenerateError> {
        Ok(params
            .signed_by(key, &self.issuer)
            .map_err(GenerateError::from)?
            .pem())
    }

    /// A new identity with the subject OUs `ous` and a key of `kind`:
    /// `(certificate, key)` PEM.
    pub fn issue_with_ous(
        &self,
        cn: &str,
        org: &str,
        ous: &[&str],
        validity: Validity,
        kind: KeyKind,
    ) -> Result<(String, String), GenerateError> {
        let key = kind.generate()?;
        let cert = self.sign(&identity_params(cn, org, ous, validity)?, &key)?;
        Ok((cert, key.serialize_pem()))
    }

    /// A CRL of this CA revoking the given certificates (PEM), valid for 30 days: PEM
    /// (`X509 CRL`).
    pub fn crl(&self, revoked_pems: &[&str]) -> Result<String, GenerateError> {
        let now = SystemTime::now();
        let mut revoked_certs = Vec::with_capacity(revoked_pems.len());
        for pem in revoked_pems {
            let der = first_pem_cert(pem.as_bytes())?;
            let (_, x) = X509Certificate::from_der(&der).map_err(GenerateError::from)?;
            revoked_certs.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(x.raw_serial()),
                revocation_time: now.into(),
                reason_code: None,
                invalidity_date: None,
            });
        }
        let params = CertificateRevocationListParams {
            this_update: (now - Duration::from_secs(3600)).into(),
            next_update: (now + Duration::from_secs(30 * 86_400)).into(),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params
            .signed_by(&self.issuer)
            .map_err(GenerateError::from)?
            .pem()
            .map_err(GenerateError::from)
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A new key and a certificate for it, issued by this CA: `(certificate, key)` PEM.
    pub fn issue(
        &self,
        cn: &str,
        org: &str,
        validity: Validity,
        usage: Usage,
    ) -> Result<(String, String), GenerateError> {
        let key = KeyPair::generate().map_err(GenerateError::from)?;
        let mut p = base_params(cn, org, validity)?;
        match usage {
            Usage::Sign => {}
            Usage::Tls(names) => {
                p.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                ];
                p.extended_key_usages = vec![
                    ExtendedKeyUsagePurpose::ServerAuth,
                    ExtendedKeyUsagePurpose::ClientAuth,
                ];
                for n in names {
                    p.subject_alt_names
                        .push(match n.parse::<std::net::IpAddr>() {
                            Ok(ip) => SanType::IpAddress(ip),
                            Err(_) => SanType::DnsName(n.try_into().map_err(GenerateError::from)?),
                        });
                }
            }
        }
        let cert = p
            .signed_by(&key, &self.issuer)
            .map_err(GenerateError::from)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

fn write(path: &Path, text: &str) -> Result<(), GenerateError> {
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| GenerateError::Write { path, source }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed(dir))?;
    }
    std::fs::write(path, text).map_err(failed(path))
}

/// Writes a local MSP directory: CA certificates and an identity with its key.
pub fn write_local_msp(
    dir: &Path,
    cacerts: &[&str],
    intermediates: &[&str],
    tlscacerts: &[&str],
    cert_pem: &str,
    key_pem: &str,
) -> Result<(), GenerateError> {
    for (i, c) in cacerts.iter().enumerate() {
        write(&dir.join("cacerts").join(format!("ca-cert-{i}.pem")), c)?;
    }
    for (i, c) in intermediates.iter().enumerate() {
        write(
            &dir.join("intermediatecerts")
                .join(format!("ica-cert-{i}.pem")),
            c,
        )?;
    }
    for (i, c) in tlscacerts.iter().enumerate() {
        write(
            &dir.join("tlscacerts").join(format!("tlsca-cert-{i}.pem")),
            c,
        )?;
    }
    write(&dir.join("signcerts").join("cert.pem"), cert_pem)?;
    write(&dir.join("keystore").join("priv_sk"), key_pem)
}

/// The NodeOU role [`new_org`] gives an identity by its name (case-insensitive):
/// `admin…` admin, `orderer…` orderer, `peer…` peer, anything else client.
pub fn role_for_name(name: &str) -> NodeRole {
    let n = name.to_ascii_lowercase();
    if n.starts_with("admin") {
        NodeRole::Admin
    } else if n.starts_with("orderer") {
        NodeRole::Orderer
    } else if n.starts_with("peer") {
        NodeRole::Peer
    } else {
        NodeRole::Client
    }
}

/// The OU of a NodeOU role in the MSPs [`new_org`] writes (cryptogen's names).
pub fn node_ou_name(role: NodeRole) -> &'static str {
    match role {
        NodeRole::Client => "client",
        NodeRole::Peer => "peer",
        NodeRole::Admin => "admin",
        NodeRole::Orderer => "orderer",
    }
}

/// An MSP `config.yaml` enabling NodeOUs, each role's OU bound to the CA certificate at
/// `ca_path` (relative to the MSP directory).
pub fn node_ous_config_yaml(ca_path: &str) -> String {
    let mut out = String::from("NodeOUs:\n  Enable: true\n");
    for (key, role) in [
        ("ClientOUIdentifier", NodeRole::Client),
        ("PeerOUIdentifier", NodeRole::Peer),
        ("AdminOUIdentifier", NodeRole::Admin),
        ("OrdererOUIdentifier", NodeRole::Orderer),
    ] {
        out.push_str(&format!(
            "  {key}:\n    Certificate: {ca_path}\n    OrganizationalUnitIdentifier: {}\n",
            node_ou_name(role)
        ));
    }
    out
}

/// Creates an organization like `cryptogen` does, under `out`:
///
/// ```text
/// ca/ca-cert.pem, ca/ca-key.pem              the signing CA (keep the key private)
/// tlsca/tlsca-cert.pem, tlsca/tlsca-key.pem  the TLS CA
/// msp/{cacerts,tlscacerts,config.yaml}       the organization's MSP (for Organizations)
/// <name>/msp/{cacerts,tlscacerts,signcerts,keystore,config.yaml}   each identity's
///                                            local MSP
/// <name>/tls/{server.crt,server.key,ca.crt}  each identity's TLS certificate
/// ```
///
/// The MSPs enable NodeOUs (`config.yaml`): each identity's certificate carries the OU
/// of its role, chosen by [`role_for_name`] (so `admin` is an administrator without
/// admincerts). TLS certificates name the identity, `localhost` and `127.0.0.1`.
pub fn new_org(
    out: &Path,
    msp_id: &str,
    identities: &[String],
    days: u32,
) -> Result<(), GenerateError> {
    let domain = msp_id.to_ascii_lowercase();
    let validity = Validity::days(days);
    let ca = Authority::root(&format!("ca.{domain}"), msp_id, validity)?;
    let tlsca = Authority::root(&format!("tlsca.{domain}"), msp_id, validity)?;
    write(&out.join("ca").join("ca-cert.pem"), ca.cert_pem())?;
    write(&out.join("ca").join("ca-key.pem"), ca.key_pem())?;
    write(&out.join("tlsca").join("tlsca-cert.pem"), tlsca.cert_pem())?;
    write(&out.join("tlsca").join("tlsca-key.pem"), tlsca.key_pem())?;
    let msp = out.join("msp");
    write(&msp.join("cacerts").join("ca-cert.pem"), ca.cert_pem())?;
    write(
        &msp.join("tlscacerts").join("tlsca-cert.pem"),
        tlsca.cert_pem(),
    )?;
    write(
        &msp.join("config.yaml"),
        &node_ous_config_yaml("cacerts/ca-cert.pem"),
    )?;
    for name in identities {
        let ou = node_ou_name(role_for_name(name));
        let (cert, key) = ca.issue_with_ous(name, msp_id, &[ou], validity, KeyKind::P256)?;
        let local = out.join(name).join("msp");
        write_local_msp(
            &local,
            &[ca.cert_pem()],
            &[],
            &[tlsca.cert_pem()],
            &cert,
            &key,
        )?;
        // write_local_msp names the first CA certificate ca-cert-0.pem.
        write(
            &local.join("config.yaml"),
            &node_ous_config_yaml("cacerts/ca-cert-0.pem"),
        )?;
        let names = vec![name.clone(), "localhost".into(), "127.0.0.1".into()];
        let (tls_cert, tls_key) = tlsca.issue(name, msp_id, validity, Usage::Tls(names))?;
        write(&out.join(name).join("tls").join("server.crt"), &tls_cert)?;
        write(&out.join(name).join("tls").join("server.key"), &tls_key)?;
        write(&out.join(name).join("tls").join("ca.crt"), tlsca.cert_pem())?;
    }
    Ok(())
}

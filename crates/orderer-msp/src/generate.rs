//! New CAs and identities in Fabric's MSP layout (feature `generate`): what
//! `orderer-cli msp new` writes, and what tests build foreign CAs and expired
//! certificates with. Keys are ECDSA P-256, like `cryptogen`'s.

use std::path::Path;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

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

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn base_params(cn: &str, org: &str, validity: Validity) -> Result<CertificateParams, String> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name.push(DnType::OrganizationName, org);
    p.not_before = validity.not_before.into();
    p.not_after = validity.not_after.into();
    Ok(p)
}

fn ca_params(cn: &str, org: &str, validity: Validity) -> Result<CertificateParams, String> {
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
    pub fn root(cn: &str, org: &str, validity: Validity) -> Result<Self, String> {
        let key = KeyPair::generate().map_err(err)?;
        let params = ca_params(cn, org, validity)?;
        let cert = params.self_signed(&key).map_err(err)?;
        Ok(Authority {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// An intermediate CA issued by this one.
    pub fn intermediate(&self, cn: &str, org: &str, validity: Validity) -> Result<Self, String> {
        let key = KeyPair::generate().map_err(err)?;
        let params = ca_params(cn, org, validity)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(err)?;
        Ok(Authority {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        })
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
    ) -> Result<(String, String), String> {
        let key = KeyPair::generate().map_err(err)?;
        let mut p = base_params(cn, org, validity)?;
        p.is_ca = IsCa::ExplicitNoCa;
        match usage {
            Usage::Sign => p.key_usages = vec![KeyUsagePurpose::DigitalSignature],
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
                            Err(_) => SanType::DnsName(n.try_into().map_err(err)?),
                        });
                }
            }
        }
        let cert = p.signed_by(&key, &self.issuer).map_err(err)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes a local MSP directory: CA certificates and an identity with its key.
pub fn write_local_msp(
    dir: &Path,
    cacerts: &[&str],
    intermediates: &[&str],
    tlscacerts: &[&str],
    cert_pem: &str,
    key_pem: &str,
) -> Result<(), String> {
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

/// Creates an organization like `cryptogen` does, under `out`:
///
/// ```text
/// ca/ca-cert.pem, ca/ca-key.pem              the signing CA (keep the key private)
/// tlsca/tlsca-cert.pem, tlsca/tlsca-key.pem  the TLS CA
/// msp/{cacerts,tlscacerts}                   the organization's MSP (for Organizations)
/// <name>/msp/{cacerts,tlscacerts,signcerts,keystore}   each identity's local MSP
/// <name>/tls/{server.crt,server.key,ca.crt}  each identity's TLS certificate
/// ```
///
/// TLS certificates name the identity, `localhost` and `127.0.0.1`.
pub fn new_org(out: &Path, msp_id: &str, identities: &[String], days: u32) -> Result<(), String> {
    let domain = msp_id.to_ascii_lowercase();
    let validity = Validity::days(days);
    let ca = Authority::root(&format!("ca.{domain}"), msp_id, validity)?;
    let tlsca = Authority::root(&format!("tlsca.{domain}"), msp_id, validity)?;
    write(&out.join("ca").join("ca-cert.pem"), ca.cert_pem())?;
    write(&out.join("ca").join("ca-key.pem"), ca.key_pem())?;
    write(&out.join("tlsca").join("tlsca-cert.pem"), tlsca.cert_pem())?;
    write(&out.join("tlsca").join("tlsca-key.pem"), tlsca.key_pem())?;
    write(
        &out.join("msp").join("cacerts").join("ca-cert.pem"),
        ca.cert_pem(),
    )?;
    write(
        &out.join("msp").join("tlscacerts").join("tlsca-cert.pem"),
        tlsca.cert_pem(),
    )?;
    for name in identities {
        let (cert, key) = ca.issue(name, msp_id, validity, Usage::Sign)?;
        write_local_msp(
            &out.join(name).join("msp"),
            &[ca.cert_pem()],
            &[],
            &[tlsca.cert_pem()],
            &cert,
            &key,
        )?;
        let names = vec![name.clone(), "localhost".into(), "127.0.0.1".into()];
        let (tls_cert, tls_key) = tlsca.issue(name, msp_id, validity, Usage::Tls(names))?;
        write(&out.join(name).join("tls").join("server.crt"), &tls_cert)?;
        write(&out.join(name).join("tls").join("server.key"), &tls_key)?;
        write(&out.join(name).join("tls").join("ca.crt"), tlsca.cert_pem())?;
    }
    Ok(())
}

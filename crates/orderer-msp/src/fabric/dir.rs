//! An MSP directory in Fabric's layout as a `FabricMSPConfig`, the way Fabric's
//! configbuilder reads it for a channel configuration (no signing identity):
//!
//! ```text
//! cacerts/  intermediatecerts/  admincerts/  crls/  tlscacerts/  tlsintermediatecerts/
//! config.yaml   OrganizationalUnitIdentifiers and NodeOUs; certificate paths in it
//!               are relative to the MSP directory
//! ```
//!
//! Each file of a directory becomes one entry, its bytes as they are (Fabric uses the
//! first PEM block of each). As in Fabric, files without PEM content and NodeOU
//! certificates that cannot be read are skipped (the OU is then not bound to a CA);
//! [`msp_config_from_dir_with_warnings`] says which, so that they can be logged.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use orderer_api::proto::msp::{
    FabricCryptoConfig, FabricMspConfig, FabricNodeOUs, FabricOuIdentifier, MspConfig,
};
use prost::Message;
use serde::Deserialize;

use crate::MspError;

/// `config.yaml` of an MSP directory (Fabric's keys; others are ignored).
#[derive(Debug, Default, Deserialize)]
struct Configuration {
    #[serde(rename = "OrganizationalUnitIdentifiers", default)]
    organizational_unit_identifiers: Option<Vec<OuConfiguration>>,
    #[serde(rename = "NodeOUs", default)]
    node_ous: Option<NodeOusConfiguration>,
}

#[derive(Debug, Default, Deserialize)]
struct OuConfiguration {
    #[serde(rename = "Certificate", default)]
    certificate: Option<String>,
    #[serde(rename = "OrganizationalUnitIdentifier", default)]
    organizational_unit_identifier: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct NodeOusConfiguration {
    #[serde(rename = "Enable", default)]
    enable: Option<bool>,
    #[serde(rename = "ClientOUIdentifier", default)]
    client: Option<OuConfiguration>,
    #[serde(rename = "PeerOUIdentifier", default)]
    peer: Option<OuConfiguration>,
    #[serde(rename = "AdminOUIdentifier", default)]
    admin: Option<OuConfiguration>,
    #[serde(rename = "OrdererOUIdentifier", default)]
    orderer: Option<OuConfiguration>,
}

/// The files of `dir`, sorted by name; `None` when it does not exist.
pub(crate) fn list_files(dir: &Path) -> Result<Option<Vec<PathBuf>>, MspError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(MspError::file(dir, e.to_string())),
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    Ok(Some(paths))
}

/// The contents of the files of `dir` that hold PEM; `None` when it does not exist.
fn pem_files(dir: &Path, warnings: &mut Vec<String>) -> Result<Option<Vec<Bytes>>, MspError> {
    let Some(paths) = list_files(dir)? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        let bytes = std::fs::read(&path).map_err(|e| MspError::file(&path, e.to_string()))?;
        if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            warnings.push(format!(
                "{}: skipped, holds no PEM block (-----BEGIN ...-----)",
                path.display()
            ));
            continue;
        }
        out.push(Bytes::from(bytes));
    }
    Ok(Some(out))
}

/// A path of config.yaml, relative to the MSP directory even when it starts with `/`
/// (as Go's `filepath.Join` treats it).
fn relative(dir: &Path, path: &str) -> PathBuf {
    dir.join(path.trim_start_matches(['/', '\\']))
}

fn read(path: &Path, what: &str) -> Result<Bytes, MspError> {
    std::fs::read(path)
        .map(Bytes::from)
        .map_err(|e| MspError::file(path, format!("{what}: {e}")))
}

/// Reads an MSP directory (Fabric's layout) into the `FabricMSPConfig` of a channel
/// configuration, named `msp_id`. `cacerts/` must hold at least one certificate; the
/// other directories and `config.yaml` are optional.
pub fn msp_config_from_dir(dir: &Path, msp_id: &str) -> Result<FabricMspConfig, MspError> {
    msp_config_from_dir_with_warnings(dir, msp_id).map(|(config, _)| config)
}

/// [`msp_config_from_dir`], and what was skipped as Fabric skips it (files without PEM,
/// NodeOU certificates that cannot be read), one message each.
pub fn msp_config_from_dir_with_warnings(
    dir: &Path,
    msp_id: &str,
) -> Result<(FabricMspConfig, Vec<String>), MspError> {
    if !dir.is_dir() {
        return Err(MspError::file(dir, "is not a directory".into()));
    }
    let mut warnings = Vec::new();
    let w = &mut warnings;
    let cacerts = dir.join("cacerts");
    let root_certs = pem_files(&cacerts, w)?.unwrap_or_default();
    if root_certs.is_empty() {
        return Err(MspError::file(
            &cacerts,
            "holds no CA certificate: an MSP needs its root CA there".into(),
        ));
    }
    let tls_root_certs = pem_files(&dir.join("tlscacerts"), w)?.unwrap_or_default();
    // Fabric reads TLS intermediates only when there are TLS roots.
    let tls_intermediate_certs = if tls_root_certs.is_empty() {
        Vec::new()
    } else {
        pem_files(&dir.join("tlsintermediatecerts"), w)?.unwrap_or_default()
    };
    let mut config = FabricMspConfig {
        name: msp_id.to_owned(),
        root_certs,
        intermediate_certs: pem_files(&dir.join("intermediatecerts"), w)?.unwrap_or_default(),
        admins: pem_files(&dir.join("admincerts"), w)?.unwrap_or_default(),
        revocation_list: pem_files(&dir.join("crls"), w)?.unwrap_or_default(),
        signing_identity: None,
        organizational_unit_identifiers: Vec::new(),
        crypto_config: Some(FabricCryptoConfig {
            signature_hash_family: "SHA2".into(),
            identity_identifier_hash_function: "SHA256".into(),
        }),
        tls_root_certs,
        tls_intermediate_certs,
        fabric_node_ous: None,
    };
    let config_file = dir.join("config.yaml");
    if config_file.is_file() {
        let text = std::fs::read_to_string(&config_file)
            .map_err(|e| MspError::file(&config_file, e.to_string()))?;
        let parsed: Option<Configuration> = serde_yaml::from_str(&text).map_err(|e| {
            MspError::file(&config_file, format!("not a valid MSP config.yaml: {e}"))
        })?;
        let parsed = parsed.unwrap_or_default();
        config.organizational_unit_identifiers =
            ou_identifiers(dir, &config_file, parsed.organizational_unit_identifiers)?;
        config.fabric_node_ous = node_ous(dir, parsed.node_ous, w);
    }
    Ok((config, warnings))
}

fn ou_identifiers(
    dir: &Path,
    config_file: &Path,
    ous: Option<Vec<OuConfiguration>>,
) -> Result<Vec<FabricOuIdentifier>, MspError> {
    let mut out = Vec::new();
    for (i, ou) in ous.unwrap_or_default().into_iter().enumerate() {
        let Some(cert) = ou.certificate.filter(|c| !c.is_empty()) else {
            return Err(MspError::file(
                config_file,
                format!("OrganizationalUnitIdentifiers entry {i} has no Certificate"),
            ));
        };
        out.push(FabricOuIdentifier {
            certificate: read(
                &relative(dir, &cert),
                "the certificate of an OrganizationalUnitIdentifiers entry",
            )?,
            organizational_unit_identifier: ou.organizational_unit_identifier.unwrap_or_default(),
        });
    }
    Ok(out)
}

/// NodeOUs when enabled; roles without an OU are left out.
fn node_ous(
    dir: &Path,
    node_ous: Option<NodeOusConfiguration>,
    warnings: &mut Vec<String>,
) -> Option<FabricNodeOUs> {
    let n = node_ous.filter(|n| n.enable == Some(true))?;
    let mut role = |ou: Option<OuConfiguration>, name: &str| {
        let ou = ou?;
        let id = ou
            .organizational_unit_identifier
            .filter(|o| !o.is_empty())?;
        let certificate = match ou.certificate.filter(|c| !c.is_empty()) {
            Some(path) => {
                let path = relative(dir, &path);
                std::fs::read(&path).map(Bytes::from).unwrap_or_else(|e| {
                    warnings.push(format!(
                        "{}: the certificate of NodeOUs.{name} cannot be read ({e}); the OU \
                         is not bound to a CA",
                        path.display()
                    ));
                    Bytes::new()
                })
            }
            None => Bytes::new(),
        };
        Some(FabricOuIdentifier {
            certificate,
            organizational_unit_identifier: id,
        })
    };
    Some(FabricNodeOUs {
        enable: true,
        client_ou_identifier: role(n.client, "ClientOUIdentifier"),
        peer_ou_identifier: role(n.peer, "PeerOUIdentifier"),
        admin_ou_identifier: role(n.admin, "AdminOUIdentifier"),
        orderer_ou_identifier: role(n.orderer, "OrdererOUIdentifier"),
    })
}

/// The `MSPConfig` of a channel configuration carrying `fabric` (type 0, X.509).
pub fn msp_config(fabric: &FabricMspConfig) -> MspConfig {
    MspConfig {
        r#type: 0,
        config: fabric.encode_to_vec().into(),
    }
}

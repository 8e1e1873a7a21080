//! Organizational units: the OUs an MSP may require of its identities
//! (`organizational_unit_identifiers`) and NodeOUs, the OUs that classify identities
//! as clients, peers, admins and orderers (Fabric MSP 1.4.3 rules).

use orderer_api::proto::msp::{FabricNodeOUs, FabricOuIdentifier};

use super::crl::hex;
use super::error::{SetupError, ValidationError};

/// An organizational unit of an identity as Fabric identifies it: an OU value of the
/// certificate's subject, and the certifiers identifier, the hash of the certificates
/// above the identity in its chain (issuer first, root last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OuIdentifier {
    /// The OU value.
    pub organizational_unit: String,
    /// The hash of the certificates that certify it (see above).
    pub certifiers_identifier: Vec<u8>,
}

/// The classifications NodeOUs give identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRole {
    /// Applications: clients that submit transactions.
    Client,
    /// Peers.
    Peer,
    /// Administrators of the organization.
    Admin,
    /// Ordering service nodes.
    Orderer,
}

impl NodeRole {
    const ALL: [NodeRole; 4] = [
        NodeRole::Client,
        NodeRole::Peer,
        NodeRole::Admin,
        NodeRole::Orderer,
    ];

    /// The role's name as Fabric prints it.
    pub fn name(self) -> &'static str {
        match self {
            NodeRole::Client => "CLIENT",
            NodeRole::Peer => "PEER",
            NodeRole::Admin => "ADMIN",
            NodeRole::Orderer => "ORDERER",
        }
    }
}

/// Why an identity's organizational units do not satisfy its MSP, or a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OuError {
    #[error(
        "the identity's OU {ou:?} was not issued by the CA MSP {msp} binds it to \
         (certifiers identifier does not match; OUs: {})",
        describe(ous)
    )]
    WrongCertifiers {
        ou: String,
        msp: String,
        ous: Vec<OuIdentifier>,
    },
    #[error(
        "the identity has no OU that classifies it as client, peer, admin or orderer \
         in MSP {msp} (NodeOUs are enabled; its OUs: {})",
        describe(ous)
    )]
    NoRoleOu { msp: String, ous: Vec<OuIdentifier> },
    #[error(
        "the identity must have exactly one client, peer, admin or orderer OU in MSP \
         {msp}, not a combination (its OUs: {})",
        describe(ous)
    )]
    SeveralRoleOus { msp: String, ous: Vec<OuIdentifier> },
    #[error("NodeOUs are not enabled in MSP {msp}: its identities have no {} role", role.name())]
    NodeOusDisabled { msp: String, role: NodeRole },
    #[error("MSP {msp} defines no OU for the {} role", role.name())]
    RoleWithoutOu { msp: String, role: NodeRole },
    #[error(
        "the identity does not carry the {} OU {ou:?} of MSP {msp} (its OUs: {})",
        role.name(),
        describe(ous)
    )]
    MissingRoleOu {
        role: NodeRole,
        ou: String,
        msp: String,
        ous: Vec<OuIdentifier>,
    },
    #[error(
        "the identity's certificate has no organizational unit (OU); MSP {msp} requires one of {}",
        describe(required)
    )]
    NoOu {
        msp: String,
        required: Vec<OuIdentifier>,
    },
    #[error(
        "none of the identity's organizational units {} is one MSP {msp} accepts ({})",
        describe(ous),
        describe(required)
    )]
    NotAccepted {
        ous: Vec<OuIdentifier>,
        msp: String,
        required: Vec<OuIdentifier>,
    },
}

/// The OU of one role, bound to a CA when the configuration names its certificate.
#[derive(Debug, Clone)]
struct NodeOu {
    ou: String,
    certifiers: Vec<u8>,
}

/// An MSP's NodeOUs.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeOus {
    pub(crate) enforced: bool,
    roles: [Option<NodeOu>; 4],
}

fn describe(ous: &[OuIdentifier]) -> String {
    let names: Vec<String> = ous
        .iter()
        .map(|o| {
            let prefix = &o.certifiers_identifier[..o.certifiers_identifier.len().min(8)];
            format!("{}({})", o.organizational_unit, hex(prefix))
        })
        .collect();
    format!("[{}]", names.join(", "))
}

impl NodeOus {
    /// From the configuration; `certifiers` gives the certifiers identifier of a CA
    /// certificate of the MSP (PEM). Enforcement is off when no role has an OU.
    pub(crate) fn setup(
        config: Option<&FabricNodeOUs>,
        certifiers: impl Fn(&[u8]) -> Result<Vec<u8>, ValidationError>,
    ) -> Result<NodeOus, SetupError> {
        let Some(config) = config else {
            return Ok(NodeOus::default());
        };
        let configured = [
            &config.client_ou_identifier,
            &config.peer_ou_identifier,
            &config.admin_ou_identifier,
            &config.orderer_ou_identifier,
        ];
        let mut roles: [Option<NodeOu>; 4] = Default::default();
        for ((slot, conf), role) in roles.iter_mut().zip(configured).zip(NodeRole::ALL) {
            let Some(FabricOuIdentifier {
                certificate,
                organizational_unit_identifier,
            }) = conf
            else {
                continue;
            };
            let certifiers = if certificate.is_empty() {
                Vec::new()
            } else {
                certifiers(certificate).map_err(|source| SetupError::NodeOuCertificate {
                    role,
                    source: Box::new(source),
                })?
            };
            *slot = Some(NodeOu {
                ou: organizational_unit_identifier.clone(),
                certifiers,
            });
        }
        let any = roles.iter().any(Option::is_some);
        Ok(NodeOus {
            enforced: config.enable && any,
            roles,
        })
    }

    fn role(&self, role: NodeRole) -> Option<&NodeOu> {
        let i = NodeRole::ALL.iter().position(|r| *r == role)?;
        self.roles[i].as_ref()
    }

    /// The OU of `role`, if configured.
    pub(crate) fn role_ou(&self, role: NodeRole) -> Option<&str> {
        self.role(role).map(|n| n.ou.as_str())
    }

    /// With enforcement, an identity must carry exactly one of the role OUs (counting
    /// each occurrence), issued by the CA the OU is bound to, if any.
    pub(crate) fn check_identity(&self, msp: &str, ous: &[OuIdentifier]) -> Result<(), OuError> {
        if !self.enforced {
            return Ok(());
        }
        let mut found = 0;
        for ou in ous {
            // Roles sharing an OU value: the last configured wins, as in Fabric.
            let Some(node) = NodeRole::ALL
                .iter()
                .rev()
                .filter_map(|r| self.role(*r))
                .find(|n| n.ou == ou.organizational_unit)
            else {
                continue;
            };
            if !node.certifiers.is_empty() && node.certifiers != ou.certifiers_identifier {
                return Err(OuError::WrongCertifiers {
                    ou: ou.organizational_unit.clone(),
                    msp: msp.to_owned(),
                    ous: ous.to_vec(),
                });
            }
            found += 1;
            if found > 1 {
                break;
            }
        }
        match found {
            0 => Err(OuError::NoRoleOu {
                msp: msp.to_owned(),
                ous: ous.to_vec(),
            }),
            1 => Ok(()),
            _ => Err(OuError::SeveralRoleOus {
                msp: msp.to_owned(),
                ous: ous.to_vec(),
            }),
        }
    }

    /// Whether the identity carries the OU of `role` (Fabric's `hasOURole`; the
    /// certifiers were checked when the identity was validated).
    pub(crate) fn has_role(
        &self,
        msp: &str,
        ous: &[OuIdentifier],
        role: NodeRole,
    ) -> Result<(), OuError> {
        let msp = msp.to_owned();
        if !self.enforced {
            return Err(OuError::NodeOusDisabled { msp, role });
        }
        let Some(node) = self.role(role) else {
            return Err(OuError::RoleWithoutOu { msp, role });
        };
        if ous.iter().any(|o| o.organizational_unit == node.ou) {
            return Ok(());
        }
        Err(OuError::MissingRoleOu {
            role,
            ou: node.ou.clone(),
            msp,
            ous: ous.to_vec(),
        })
    }
}

/// With OU identifiers configured, an identity must carry at least one of them, with
/// the same certifiers identifier (Fabric's rule from MSP 1.0).
pub(crate) fn check_ou_identifiers(
    required: &[OuIdentifier],
    msp: &str,
    ous: &[OuIdentifier],
) -> Result<(), OuError> {
    if required.is_empty() || ous.iter().any(|o| required.contains(o)) {
        return Ok(());
    }
    if ous.is_empty() {
        return Err(OuError::NoOu {
            msp: msp.to_owned(),
            required: required.to_vec(),
        });
    }
    Err(OuError::NotAccepted {
        ous: ous.to_vec(),
        msp: msp.to_owned(),
        required: required.to_vec(),
    })
}

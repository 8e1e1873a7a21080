//! Table tests of the policy engine, each named after the Fabric behaviour it
//! mirrors, over a fake MSP (no crypto).
//!
//! A fake serialized identity is the text `MSPID:roles:name`, e.g.
//! `Org1MSP:admin,peer:alice`: it satisfies `MSPID.member` and `MSPID.<role>` for
//! each listed role, and `IDENTITY` principals equal to its own bytes. A signature
//! is valid when it is `good`. The fake MSPs refuse unknown MSP IDs and the name
//! `revoked`.

mod dsl;
mod evaluation;
mod implicit_meta;
mod manager;
mod signature;
mod signed_data;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use prost::Message;

use super::{Identity, IdentityDeserializer, MspRefusal, PolicyManager, SignedData};
use crate::policies::dsl::policy_from_configtx;
use crate::proto::common::msp_principal::Classification;
use crate::proto::common::msp_role::MspRoleType;
use crate::proto::common::{ConfigGroup, ConfigPolicy, MspPrincipal, MspRole, Policy};

#[derive(Debug)]
struct FakeIdentity {
    serialized: Vec<u8>,
    msp_id: String,
    roles: Vec<String>,
    verifications: Arc<AtomicUsize>,
}

impl Identity for FakeIdentity {
    fn msp_id(&self) -> &str {
        &self.msp_id
    }

    fn unique_id(&self) -> &[u8] {
        &self.serialized
    }

    fn satisfies_principal(&self, principal: &MspPrincipal) -> Result<(), MspRefusal> {
        match Classification::try_from(principal.principal_classification) {
            Ok(Classification::Role) => {
                let role =
                    MspRole::decode(principal.principal.clone()).map_err(|e| e.to_string())?;
                if role.msp_identifier != self.msp_id {
                    return Err(format!("not of MSP {}", role.msp_identifier).into());
                }
                let role = MspRoleType::try_from(role.role).map_err(|e| e.to_string())?;
                let name = role.as_str_name().to_ascii_lowercase();
                if role == MspRoleType::Member || self.roles.contains(&name) {
                    Ok(())
                } else {
                    Err(format!("not {name}").into())
                }
            }
            Ok(Classification::Identity) if principal.principal[..] == self.serialized[..] => {
                Ok(())
            }
            _ => Err("principal not satisfied".into()),
        }
    }

    fn verify(&self, _data: &[u8], signature: &[u8]) -> Result<(), MspRefusal> {
        self.verifications.fetch_add(1, Ordering::SeqCst);
        if signature == b"good" {
            Ok(())
        } else {
            Err("signature does not verify".into())
        }
    }
}

/// MSPs knowing `Org1MSP` to `Org4MSP`; counts signature verifications.
#[derive(Debug, Default)]
struct FakeMsps {
    verifications: Arc<AtomicUsize>,
}

impl FakeMsps {
    fn verifications(&self) -> usize {
        self.verifications.load(Ordering::SeqCst)
    }
}

impl IdentityDeserializer for FakeMsps {
    fn deserialize_identity(&self, serialized: &[u8]) -> Result<Arc<dyn Identity>, MspRefusal> {
        let text = std::str::from_utf8(serialized).map_err(|_| "not UTF-8".to_owned())?;
        let [msp_id, roles, name] = text.split(':').collect::<Vec<_>>()[..] else {
            return Err(format!("malformed identity {text:?}").into());
        };
        if !matches!(msp_id, "Org1MSP" | "Org2MSP" | "Org3MSP" | "Org4MSP") {
            return Err(format!("unknown MSP {msp_id}").into());
        }
        if name == "revoked" {
            return Err("certificate revoked".into());
        }
        Ok(Arc::new(FakeIdentity {
            serialized: serialized.to_vec(),
            msp_id: msp_id.to_owned(),
            roles: roles
                .split(',')
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
            verifications: Arc::clone(&self.verifications),
        }))
    }
}

/// The identity `MSPID:roles:name`, deserialized.
fn id(text: &str) -> Arc<dyn Identity> {
    FakeMsps::default()
        .deserialize_identity(text.as_bytes())
        .unwrap()
}

fn ids(texts: &[&str]) -> Vec<Arc<dyn Identity>> {
    texts.iter().map(|t| id(t)).collect()
}

/// A signature of `identity` over a fixed message; `good` verifies.
fn signed(identity: &str, signature: &str) -> SignedData {
    SignedData {
        data: Bytes::from_static(b"message"),
        identity: Bytes::copy_from_slice(identity.as_bytes()),
        signature: Bytes::copy_from_slice(signature.as_bytes()),
    }
}

/// An IDENTITY principal matching exactly the fake identity `text`.
fn identity_principal(text: &str) -> MspPrincipal {
    MspPrincipal {
        principal_classification: Classification::Identity as i32,
        principal: Bytes::copy_from_slice(text.as_bytes()),
    }
}

/// A config group with these policies (mod_policy "Admins") and child groups.
fn config_group(policies: Vec<(&str, Policy)>, groups: Vec<(&str, ConfigGroup)>) -> ConfigGroup {
    ConfigGroup {
        policies: policies
            .into_iter()
            .map(|(name, policy)| {
                let config = ConfigPolicy {
                    version: 0,
                    policy: Some(policy),
                    mod_policy: "Admins".to_owned(),
                };
                (name.to_owned(), config)
            })
            .collect(),
        groups: groups
            .into_iter()
            .map(|(name, group)| (name.to_owned(), group))
            .collect(),
        mod_policy: "Admins".to_owned(),
        ..Default::default()
    }
}

/// A SIGNATURE policy from configtx.yaml's language.
fn sig(rule: &str) -> Policy {
    policy_from_configtx("Signature", rule).unwrap()
}

/// An IMPLICIT_META policy from configtx.yaml's language ("ANY Writers").
fn meta(rule: &str) -> Policy {
    policy_from_configtx("ImplicitMeta", rule).unwrap()
}

/// An organization's group: members read and write, admins administer.
fn org(msp_id: &str) -> ConfigGroup {
    config_group(
        vec![
            ("Readers", sig(&format!("OR('{msp_id}.member')"))),
            ("Writers", sig(&format!("OR('{msp_id}.member')"))),
            ("Admins", sig(&format!("OR('{msp_id}.admin')"))),
        ],
        vec![],
    )
}

/// The standard groups' policies: ANY Readers, ANY Writers, MAJORITY Admins.
fn standard_policies() -> Vec<(&'static str, Policy)> {
    vec![
        ("Readers", meta("ANY Readers")),
        ("Writers", meta("ANY Writers")),
        ("Admins", meta("MAJORITY Admins")),
    ]
}

/// A channel as configtxgen makes it: orderer org Org4MSP, application orgs
/// Org1MSP and Org2MSP.
fn channel() -> ConfigGroup {
    let mut orderer_policies = standard_policies();
    orderer_policies.push(("BlockValidation", meta("ANY Writers")));
    config_group(
        standard_policies(),
        vec![
            (
                "Orderer",
                config_group(orderer_policies, vec![("OrdererOrg", org("Org4MSP"))]),
            ),
            (
                "Application",
                config_group(
                    standard_policies(),
                    vec![("Org1", org("Org1MSP")), ("Org2", org("Org2MSP"))],
                ),
            ),
        ],
    )
}

fn channel_manager() -> PolicyManager {
    PolicyManager::from_config_group("Channel", &channel()).unwrap()
}

#[test]
fn policy_types_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<super::Policy>();
    assert_send_sync::<super::PolicyManager>();
    assert_send_sync::<super::PolicyError>();
}

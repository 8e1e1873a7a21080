//! The policies of Fabric's sample profiles, built with [`crate::policies::dsl`]
//! exactly as configtxgen encodes them.
//!
//! A profile's policies are `common.Policy` messages: these defaults, the
//! [`dsl`](crate::policies::dsl) builders, or configtx.yaml's `Type` and `Rule` read
//! by [`policy_from_configtx`](crate::policies::dsl::policy_from_configtx).

use std::collections::BTreeMap;

use crate::policies::dsl::{implicit_meta_policy, role_principal, signature_policy, signed_by_any};
use crate::proto::common::Policy;
use crate::proto::common::implicit_meta_policy::Rule;
use crate::proto::common::msp_role::MspRoleType;

/// Names of the policies every group carries (Fabric requires all three).
pub const READERS: &str = "Readers";
/// See [`READERS`].
pub const WRITERS: &str = "Writers";
/// See [`READERS`]; also the `mod_policy` of nearly every config element.
pub const ADMINS: &str = "Admins";
/// The application orgs' endorsement policy, referenced by the Application group.
pub const ENDORSEMENT: &str = "Endorsement";
/// The Application group's policy for chaincode definitions.
pub const LIFECYCLE_ENDORSEMENT: &str = "LifecycleEndorsement";
/// The Orderer group's policy that block signatures must satisfy.
pub const BLOCK_VALIDATION: &str = "BlockValidation";

/// A group's policies by name. Sorted, so encoding does not depend on insertion order.
pub type Policies = BTreeMap<String, Policy>;

/// `Readers` and `Writers` ANY, `Admins` MAJORITY: the channel's and every group's
/// standard policies in configtxgen's sample profiles.
pub fn standard_meta_policies() -> Policies {
    BTreeMap::from([
        (READERS.into(), implicit_meta_policy(Rule::Any, READERS)),
        (WRITERS.into(), implicit_meta_policy(Rule::Any, WRITERS)),
        (ADMINS.into(), implicit_meta_policy(Rule::Majority, ADMINS)),
    ])
}

/// The standard policies plus `BlockValidation` (ANY `Writers`): the sample Orderer group.
pub fn orderer_group_policies() -> Policies {
    let mut p = standard_meta_policies();
    p.insert(
        BLOCK_VALIDATION.into(),
        implicit_meta_policy(Rule::Any, WRITERS),
    );
    p
}

/// The standard policies plus `Endorsement` and `LifecycleEndorsement` (MAJORITY
/// `Endorsement`): the sample Application group.
pub fn application_group_policies() -> Policies {
    let mut p = standard_meta_policies();
    for name in [ENDORSEMENT, LIFECYCLE_ENDORSEMENT] {
        p.insert(
            name.into(),
            implicit_meta_policy(Rule::Majority, ENDORSEMENT),
        );
    }
    p
}

/// `OR('<msp>.<role>', ...)` over `roles`, in order.
fn any_role(msp_id: &str, roles: &[MspRoleType]) -> Policy {
    let principals = roles.iter().map(|r| role_principal(msp_id, *r)).collect();
    signature_policy(&signed_by_any(principals))
}

/// Fabric's `SampleOrg` policies for an orderer org: `Readers` and `Writers`
/// `OR('<msp>.member')`, `Admins` `OR('<msp>.admin')`. They need no NodeOUs.
pub fn orderer_org_policies(msp_id: &str) -> Policies {
    let member = any_role(msp_id, &[MspRoleType::Member]);
    BTreeMap::from([
        (READERS.into(), member.clone()),
        (WRITERS.into(), member),
        (ADMINS.into(), any_role(msp_id, &[MspRoleType::Admin])),
    ])
}

/// Fabric's `SampleOrg` policies for an application org: the orderer org's, plus
/// `Endorsement` `OR('<msp>.member')`. They need no NodeOUs.
pub fn application_org_policies(msp_id: &str) -> Policies {
    let mut p = orderer_org_policies(msp_id);
    p.insert(ENDORSEMENT.into(), any_role(msp_id, &[MspRoleType::Member]));
    p
}

/// The NodeOUs flavour of [`application_org_policies`], as in fabric-samples'
/// test network: `Readers` admin|peer|client, `Writers` admin|client, `Admins`
/// admin, `Endorsement` peer. Only for MSPs with NodeOUs enabled: without them no
/// identity is a peer or a client.
pub fn application_org_node_ou_policies(msp_id: &str) -> Policies {
    use MspRoleType::{Admin, Client, Peer};
    BTreeMap::from([
        (READERS.into(), any_role(msp_id, &[Admin, Peer, Client])),
        (WRITERS.into(), any_role(msp_id, &[Admin, Client])),
        (ADMINS.into(), any_role(msp_id, &[Admin])),
        (ENDORSEMENT.into(), any_role(msp_id, &[Peer])),
    ])
}

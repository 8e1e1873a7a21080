//! Default and custom policies and their encoding.

use super::*;
use crate::policies::dsl::policy_from_configtx;

#[test]
fn every_default_policy_is_at_its_path() {
    let root = channel(&profile());
    let std = [
        ("Readers", Rule::Any, "Readers"),
        ("Writers", Rule::Any, "Writers"),
        ("Admins", Rule::Majority, "Admins"),
    ];
    let expect = |g: &ConfigGroup, extra: &[(&str, Rule, &str)]| {
        let want: BTreeSet<&str> = std.iter().chain(extra).map(|(n, ..)| *n).collect();
        assert_eq!(
            g.policies
                .keys()
                .map(String::as_str)
                .collect::<BTreeSet<_>>(),
            want
        );
        for (name, rule, sub) in std.iter().chain(extra) {
            assert_eq!(meta(&g.policies[*name]), (*rule, sub.to_string()), "{name}");
            assert_eq!(g.policies[*name].mod_policy, "Admins");
        }
    };
    expect(&root, &[]);
    expect(
        at(&root, &["Orderer"]),
        &[("BlockValidation", Rule::Any, "Writers")],
    );
    expect(
        at(&root, &["Application"]),
        &[
            ("Endorsement", Rule::Majority, "Endorsement"),
            ("LifecycleEndorsement", Rule::Majority, "Endorsement"),
        ],
    );

    let member = |msp: &str| (1, vec![(msp.to_owned(), MspRoleType::Member)]);
    let admin = |msp: &str| (1, vec![(msp.to_owned(), MspRoleType::Admin)]);
    let orderer_org = at(&root, &["Orderer", "OrdererOrg"]);
    assert_eq!(orderer_org.policies.len(), 3);
    assert_eq!(
        flat_signature(&orderer_org.policies["Readers"]),
        member("OrdererMSP")
    );
    assert_eq!(
        flat_signature(&orderer_org.policies["Writers"]),
        member("OrdererMSP")
    );
    assert_eq!(
        flat_signature(&orderer_org.policies["Admins"]),
        admin("OrdererMSP")
    );
    for (name, msp) in [("Org1", "Org1MSP"), ("Org2", "Org2MSP")] {
        let g = at(&root, &["Application", name]);
        assert_eq!(g.policies.len(), 4);
        assert_eq!(flat_signature(&g.policies["Readers"]), member(msp));
        assert_eq!(flat_signature(&g.policies["Writers"]), member(msp));
        assert_eq!(flat_signature(&g.policies["Admins"]), admin(msp));
        assert_eq!(flat_signature(&g.policies["Endorsement"]), member(msp));
    }
}

#[test]
fn node_ou_policies_name_roles() {
    let mut p = profile();
    p.application.as_mut().unwrap().organizations[0].policies =
        Some(application_org_node_ou_policies("Org1MSP"));
    let root = channel(&p);
    let g = at(&root, &["Application", "Org1"]);
    let roles = |name: &str| {
        let (n, ps) = flat_signature(&g.policies[name]);
        assert_eq!(n, 1);
        ps.into_iter().map(|(_, r)| r).collect::<Vec<_>>()
    };
    use MspRoleType::*;
    assert_eq!(roles("Readers"), [Admin, Peer, Client]);
    assert_eq!(roles("Writers"), [Admin, Client]);
    assert_eq!(roles("Admins"), [Admin]);
    assert_eq!(roles("Endorsement"), [Peer]);
}

/// The defaults are what configtxgen makes of the sample configtx.yaml's strings.
#[test]
fn defaults_encode_like_their_configtx_strings() {
    let parsed = |entries: &[(&str, &str, &str)]| -> Policies {
        entries
            .iter()
            .map(|(name, kind, rule)| {
                let policy = policy_from_configtx(kind, rule).unwrap();
                (name.to_string(), policy)
            })
            .collect()
    };
    let mut orderer = parsed(&[
        ("Readers", "ImplicitMeta", "ANY Readers"),
        ("Writers", "ImplicitMeta", "ANY Writers"),
        ("Admins", "ImplicitMeta", "MAJORITY Admins"),
    ]);
    assert_eq!(standard_meta_policies(), orderer);
    orderer.extend(parsed(&[(
        "BlockValidation",
        "ImplicitMeta",
        "ANY Writers",
    )]));
    assert_eq!(orderer_group_policies(), orderer);
    let org = parsed(&[
        ("Readers", "Signature", "OR('Org1MSP.member')"),
        ("Writers", "Signature", "OR('Org1MSP.member')"),
        ("Admins", "Signature", "OR('Org1MSP.admin')"),
        ("Endorsement", "Signature", "OR('Org1MSP.member')"),
    ]);
    assert_eq!(application_org_policies("Org1MSP"), org);
    let node_ous = parsed(&[
        (
            "Readers",
            "Signature",
            "OR('Org1MSP.admin', 'Org1MSP.peer', 'Org1MSP.client')",
        ),
        (
            "Writers",
            "Signature",
            "OR('Org1MSP.admin', 'Org1MSP.client')",
        ),
        ("Admins", "Signature", "OR('Org1MSP.admin')"),
        ("Endorsement", "Signature", "OR('Org1MSP.peer')"),
    ]);
    assert_eq!(application_org_node_ou_policies("Org1MSP"), node_ous);
}

/// A configtx string is written as parsed, principals numbered as Fabric numbers
/// them (nested gates first).
#[test]
fn parsed_policies_are_written_as_given() {
    let rule = "AND('Org1MSP.member', OR('Org2MSP.peer', 'Org1MSP.admin'), 'Org2MSP.client')";
    let policy = policy_from_configtx("Signature", rule).unwrap();
    let mut p = profile();
    p.application.as_mut().unwrap().organizations[0].policies = Some(Policies::from([
        (READERS.into(), policy.clone()),
        (WRITERS.into(), policy.clone()),
        (ADMINS.into(), policy.clone()),
    ]));
    let root = channel(&p);
    let written = at(&root, &["Application", "Org1"]).policies[READERS]
        .policy
        .clone();
    assert_eq!(written, Some(policy.clone()));
    let env = SignaturePolicyEnvelope::decode(policy.value).unwrap();
    let ids: Vec<_> = env.identities.iter().map(role).collect();
    use MspRoleType::*;
    let expected = [
        ("Org2MSP", Peer),
        ("Org1MSP", Admin),
        ("Org1MSP", Member),
        ("Org2MSP", Client),
    ];
    assert_eq!(ids, expected.map(|(m, r)| (m.to_owned(), r)));
}

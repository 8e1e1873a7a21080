//! Default and custom policies and their encoding.

use super::*;

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
    p.application.organizations[0].policies = Some(application_org_node_ou_policies("Org1MSP"));
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

#[test]
fn nested_rules_number_principals_like_fabric() {
    // Fabric's parser numbers a gate's nested gates before its own principals.
    let rule: SignatureRule = "AND('A.member', OR('B.peer', 'C.admin'), 'D.client')"
        .parse()
        .unwrap();
    let env = rule.to_envelope();
    let ids: Vec<_> = env.identities.iter().map(role).map(|(m, _)| m).collect();
    assert_eq!(ids, ["B", "C", "A", "D"]);
    let Some(signature_policy::Type::NOutOf(top)) = env.rule.unwrap().r#type else {
        panic!()
    };
    assert_eq!(top.n, 3);
    let by = |i| Some(signature_policy::Type::SignedBy(i));
    assert_eq!(top.rules[0].r#type, by(2));
    assert_eq!(top.rules[2].r#type, by(3));
    let Some(signature_policy::Type::NOutOf(inner)) = &top.rules[1].r#type else {
        panic!()
    };
    assert_eq!((inner.n, inner.rules[0].r#type.clone()), (1, by(0)));
    assert_eq!(inner.rules[1].r#type, by(1));
}

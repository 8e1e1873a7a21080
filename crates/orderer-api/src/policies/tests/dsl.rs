//! Builders and configtx.yaml's policy strings (common/policydsl,
//! common/policies/implicitmetaparser.go).

use bytes::Bytes;
use prost::Message;

use crate::policies::dsl::{
    DslReason, accept_all, and, envelope, implicit_meta_policy, n_out_of, or, parse_implicit_meta,
    parse_signature_policy, policy_from_configtx, role_principal, signature_policy, signed_by,
    signed_by_msp_role,
};
use crate::policies::signature::CompiledSignaturePolicy;
use crate::policies::{CompileError, MAX_RULE_DEPTH};
use crate::proto::common::implicit_meta_policy::Rule;
use crate::proto::common::msp_role::MspRoleType::{self, Admin, Client, Member, Orderer, Peer};
use crate::proto::common::policy::PolicyType;
use crate::proto::common::{ImplicitMetaPolicy, MspPrincipal};

fn roles(list: &[(&str, MspRoleType)]) -> Vec<MspPrincipal> {
    list.iter()
        .map(|(msp, role)| role_principal(msp, *role))
        .collect()
}

/// Rows of Fabric's policyparser_test, principals numbered as Fabric numbers them.
#[test]
fn parses_fabric_policy_strings() {
    let cases = [
        (
            "OutOf(1, 'A.member', 'B.member')",
            envelope(
                n_out_of(1, vec![signed_by(0), signed_by(1)]),
                roles(&[("A", Member), ("B", Member)]),
            ),
        ),
        (
            "OutOf(2, 'A.member', 'B.member')",
            envelope(
                n_out_of(2, vec![signed_by(0), signed_by(1)]),
                roles(&[("A", Member), ("B", Member)]),
            ),
        ),
        (
            "AND('A.client', 'B.peer')",
            envelope(
                and(vec![signed_by(0), signed_by(1)]),
                roles(&[("A", Client), ("B", Peer)]),
            ),
        ),
        (
            "OR('A.member', AND('B.member', 'C.member'))",
            envelope(
                or(vec![signed_by(2), and(vec![signed_by(0), signed_by(1)])]),
                roles(&[("B", Member), ("C", Member), ("A", Member)]),
            ),
        ),
        (
            "OR(AND('A.member', 'B.member'), OR('C.admin', 'D.member'))",
            envelope(
                or(vec![
                    and(vec![signed_by(0), signed_by(1)]),
                    or(vec![signed_by(2), signed_by(3)]),
                ]),
                roles(&[("A", Member), ("B", Member), ("C", Admin), ("D", Member)]),
            ),
        ),
        (
            "OR('MSP.member', 'MSP.WITH.DOTS.member', 'MSP-WITH-DASHES.member')",
            envelope(
                n_out_of(1, vec![signed_by(0), signed_by(1), signed_by(2)]),
                roles(&[
                    ("MSP", Member),
                    ("MSP.WITH.DOTS", Member),
                    ("MSP-WITH-DASHES", Member),
                ]),
            ),
        ),
        (
            "OR('A.peer', 'B.admin', 'C.orderer', 'D.client')",
            envelope(
                n_out_of(
                    1,
                    vec![signed_by(0), signed_by(1), signed_by(2), signed_by(3)],
                ),
                roles(&[("A", Peer), ("B", Admin), ("C", Orderer), ("D", Client)]),
            ),
        ),
        (
            "OutOf('1', 'A.member', 'B.member')",
            envelope(
                n_out_of(1, vec![signed_by(0), signed_by(1)]),
                roles(&[("A", Member), ("B", Member)]),
            ),
        ),
        (
            "OutOf(0, 'A.member', 'B.member')",
            envelope(
                n_out_of(0, vec![signed_by(0), signed_by(1)]),
                roles(&[("A", Member), ("B", Member)]),
            ),
        ),
        (
            // Repeated principals are listed twice, as Fabric does.
            "and ( 'A.member' ,\"A.member\" )",
            envelope(
                and(vec![signed_by(0), signed_by(1)]),
                roles(&[("A", Member), ("A", Member)]),
            ),
        ),
        (
            "Or('SampleOrg.member')",
            signed_by_msp_role("SampleOrg", Member),
        ),
        (
            " OutOf(2, 'A.client', Or('B.orderer', 'my.org-1.member'), 'C.admin') ",
            envelope(
                n_out_of(
                    2,
                    vec![
                        signed_by(2),
                        or(vec![signed_by(0), signed_by(1)]),
                        signed_by(3),
                    ],
                ),
                roles(&[
                    ("B", Orderer),
                    ("my.org-1", Member),
                    ("A", Client),
                    ("C", Admin),
                ]),
            ),
        ),
        (
            "AND('A.member', OR('B.peer', 'C.admin'), 'D.client')",
            envelope(
                and(vec![
                    signed_by(2),
                    or(vec![signed_by(0), signed_by(1)]),
                    signed_by(3),
                ]),
                roles(&[("B", Peer), ("C", Admin), ("A", Member), ("D", Client)]),
            ),
        ),
        (
            // Fabric's parser takes one more than the rules: nothing satisfies it.
            "OutOf(3, 'A.member', 'B.member')",
            envelope(
                n_out_of(3, vec![signed_by(0), signed_by(1)]),
                roles(&[("A", Member), ("B", Member)]),
            ),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(parse_signature_policy(input), Ok(expected), "{input}");
    }
}

#[test]
fn refuses_malformed_policy_strings() {
    for (input, reason) in [
        ("", "expected AND, OR or OutOf, found nothing"),
        (
            "'A.member'",
            "expected AND, OR or OutOf at offset 0, found '''",
        ),
        (
            "OR('A.member', Bmember)",
            "unrecognized token 'Bmember' at offset 15",
        ),
        (
            "OR('A.member', 'Bmember')",
            "invalid principal 'Bmember' at offset 15, expected 'MSPID.role' with role member, admin, client, peer or orderer",
        ),
        (
            "OR('A.superuser')",
            "invalid principal 'A.superuser' at offset 3, expected 'MSPID.role' with role member, admin, client, peer or orderer",
        ),
        (
            "OR('.member')",
            "invalid principal '.member' at offset 3, expected 'MSPID.role' with role member, admin, client, peer or orderer",
        ),
        (
            "OR('A B.member')",
            "invalid principal 'A B.member' at offset 3, expected 'MSPID.role' with role member, admin, client, peer or orderer",
        ),
        (
            "OR('A.Member')",
            "invalid principal 'A.Member' at offset 3, expected 'MSPID.role' with role member, admin, client, peer or orderer",
        ),
        (
            "XOR('A.member')",
            "unknown gate 'XOR' at offset 0, expected AND, OR or OutOf",
        ),
        ("OR()", "expected AND, OR or OutOf at offset 3, found ')'"),
        ("OutOf(1)", "expected ',' at offset 7, found ')'"),
        ("OutOf(1, 'A.member'", "expected ')' at the end"),
        (
            "OutOf(true, 'A.member')",
            "expected the count of OutOf at offset 6, found ''",
        ),
        (
            "OutOf(-1, 'A.member', 'B.member')",
            "OutOf at offset 0 needs -1 of 2 rules: the count must be between 0 and 3",
        ),
        (
            "OutOf(4, 'A.member', 'B.member')",
            "OutOf at offset 0 needs 4 of 2 rules: the count must be between 0 and 3",
        ),
        (
            "OutOf(99999999999, 'A.member')",
            "OutOf at offset 0 needs 99999999999 of 1 rules: the count must be between 0 and 2",
        ),
        (
            "OR('A.member') OR('B.member')",
            "unexpected text after the policy at offset 15",
        ),
        ("OR('A.member", "unterminated string at offset 3"),
        (
            "OR('A.member' 'B.member')",
            "expected ',' or ')' at offset 14, found '''",
        ),
    ] {
        let err = parse_signature_policy(input).unwrap_err();
        assert_eq!(err.reason.to_string(), reason, "{input}");
        assert_eq!(err.input, input);
    }
}

#[test]
fn parser_refuses_nesting_too_deep_without_overflowing() {
    let nest = |levels: usize| format!("{}'A.member'{}", "OR(".repeat(levels), ")".repeat(levels));
    assert!(parse_signature_policy(&nest(MAX_RULE_DEPTH - 1)).is_ok());
    for levels in [MAX_RULE_DEPTH, 100_000] {
        let err = parse_signature_policy(&nest(levels)).unwrap_err();
        assert!(
            matches!(err.reason, DslReason::TooDeep { .. }),
            "{}",
            err.reason
        );
        assert!(
            err.reason
                .to_string()
                .starts_with("rules nested deeper than")
        );
    }
}

/// Whatever the text, the parser returns and never panics.
#[test]
fn arbitrary_text_never_panics() {
    let alphabet = [
        "OR", "AND", "OutOf", "(", ")", ",", "'", "\"", "A.member", "1", "-", " ", "é", "x",
    ];
    let mut seed = 0x853c_49e6_748f_ea9bu64;
    for _ in 0..5000 {
        let mut input = String::new();
        for _ in 0..(seed % 12) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            input.push_str(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        let Ok(env) = parse_signature_policy(&input) else {
            continue;
        };
        // The engine refuses only the count Fabric's parser allows above the rules.
        match CompiledSignaturePolicy::compile(&env) {
            Ok(_) => {}
            Err(CompileError::NOutOfRange { n, rules, .. }) => {
                assert_eq!(usize::try_from(n), Ok(rules + 1), "{input}");
            }
            Err(e) => panic!("{input}: {e}"),
        }
    }
}

/// Same bytes as Fabric's `policydsl.SignedByMspMember("SampleOrg")`: a set oneof
/// field is written even when zero (`signed_by(0)`), defaults are omitted.
#[test]
fn builders_encode_like_fabric() {
    let expected: Vec<u8> = [
        &[0x12, 0x08, 0x12, 0x06, 0x08, 0x01, 0x12, 0x02, 0x08, 0x00][..],
        &[0x1a, 0x0d, 0x12, 0x0b, 0x0a, 0x09],
        b"SampleOrg",
    ]
    .concat();
    assert_eq!(
        signed_by_msp_role("SampleOrg", Member).encode_to_vec(),
        expected
    );
    assert_eq!(accept_all().encode_to_vec(), [0x12, 0x02, 0x12, 0x00]);
    let policy = signature_policy(&accept_all());
    assert_eq!(policy.r#type, PolicyType::Signature as i32);
    assert_eq!(policy.value, Bytes::from_static(&[0x12, 0x02, 0x12, 0x00]));
}

#[test]
fn parses_implicit_meta_rules() {
    for (input, rule, sub_policy) in [
        ("ANY Readers", Rule::Any, "Readers"),
        ("ALL Writers", Rule::All, "Writers"),
        ("MAJORITY Admins", Rule::Majority, "Admins"),
    ] {
        let expected = ImplicitMetaPolicy {
            sub_policy: sub_policy.into(),
            rule: rule as i32,
        };
        assert_eq!(parse_implicit_meta(input), Ok(expected.clone()), "{input}");
        let policy = implicit_meta_policy(rule, sub_policy);
        assert_eq!(
            policy_from_configtx("ImplicitMeta", input),
            Ok(policy.clone())
        );
        assert_eq!(policy.r#type, PolicyType::ImplicitMeta as i32);
        assert_eq!(ImplicitMetaPolicy::decode(policy.value).unwrap(), expected);
    }
    for input in [
        "",
        "ANY",
        "ANY  Readers",
        "ANY Readers extra",
        "any Readers",
        "SOME Readers",
        "ANY ",
    ] {
        assert!(parse_implicit_meta(input).is_err(), "{input:?}");
    }
    assert_eq!(
        parse_implicit_meta("SOME Readers").unwrap_err().to_string(),
        "invalid policy \"SOME Readers\": unknown rule \"SOME\", expected ANY, ALL or MAJORITY"
    );
}

#[test]
fn configtx_policy_types() {
    let policy = policy_from_configtx("Signature", "OR('Org1MSP.member')").unwrap();
    assert_eq!(
        policy,
        signature_policy(&signed_by_msp_role("Org1MSP", Member))
    );
    let err = policy_from_configtx("Msp", "OR('Org1MSP.member')").unwrap_err();
    assert_eq!(
        err.reason,
        DslReason::UnknownPolicyType { kind: "Msp".into() }
    );
    assert_eq!(
        err.reason.to_string(),
        "unknown policy type \"Msp\", expected ImplicitMeta or Signature"
    );
    assert!(policy_from_configtx("Signature", "ANY Readers").is_err());
    assert!(policy_from_configtx("ImplicitMeta", "OR('A.member')").is_err());
}

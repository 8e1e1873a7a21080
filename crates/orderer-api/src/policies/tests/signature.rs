//! Signature policies: compile checks and Fabric's evaluation rules
//! (common/cauthdsl).

use std::sync::Arc;

use super::{id, identity_principal, ids};
use crate::policies::dsl::{and, envelope, n_out_of, or, parse_signature_policy, signed_by};
use crate::policies::signature::CompiledSignaturePolicy;
use crate::policies::{CompileError, Identity, MAX_RULE_DEPTH};
use crate::proto::common::{SignaturePolicy, SignaturePolicyEnvelope};

fn compile(dsl: &str) -> CompiledSignaturePolicy {
    CompiledSignaturePolicy::compile(&parse_signature_policy(dsl).unwrap()).unwrap()
}

/// Runs `(policy, signers, expected)` rows; signers are fake identity strings.
fn check(rows: &[(&str, &[&str], bool)]) {
    for (dsl, signers, expected) in rows {
        let policy = compile(dsl);
        assert_eq!(
            policy.is_satisfied_by(&ids(signers)),
            *expected,
            "{dsl} signed by {signers:?}"
        );
    }
}

#[test]
fn signed_by_role_principals() {
    check(&[
        ("OR('Org1MSP.member')", &["Org1MSP::a"], true),
        ("OR('Org1MSP.member')", &["Org1MSP:admin:a"], true),
        ("OR('Org1MSP.member')", &["Org2MSP::a"], false),
        ("OR('Org1MSP.member')", &[], false),
        ("OR('Org1MSP.admin')", &["Org1MSP::a"], false),
        ("OR('Org1MSP.admin')", &["Org1MSP:admin:a"], true),
        (
            "OR('Org1MSP.peer')",
            &["Org1MSP:client:a", "Org1MSP:peer:p"],
            true,
        ),
        ("OR('Org1MSP.orderer')", &["Org1MSP:peer:p"], false),
    ]);
}

#[test]
fn signed_by_needs_a_distinct_identity_per_principal() {
    check(&[
        (
            "AND('Org1MSP.member', 'Org1MSP.member')",
            &["Org1MSP::a"],
            false,
        ),
        (
            "AND('Org1MSP.member', 'Org1MSP.member')",
            &["Org1MSP::a", "Org1MSP::b"],
            true,
        ),
        (
            "AND('Org1MSP.member', 'Org1MSP.admin')",
            &["Org1MSP:admin:a"],
            false,
        ),
        (
            "AND('Org1MSP.member', 'Org2MSP.member')",
            &["Org1MSP::a", "Org2MSP::b"],
            true,
        ),
    ]);
}

#[test]
fn n_out_of_two_of_three() {
    let policy = "OutOf(2, 'Org1MSP.member', 'Org2MSP.member', 'Org3MSP.member')";
    check(&[
        (policy, &[], false),
        (policy, &["Org1MSP::a"], false),
        (policy, &["Org1MSP::a", "Org1MSP::b"], false),
        (policy, &["Org1MSP::a", "Org3MSP::c"], true),
        (policy, &["Org3MSP::c", "Org2MSP::b"], true),
        (policy, &["Org1MSP::a", "Org2MSP::b", "Org3MSP::c"], true),
        (policy, &["Org4MSP::d", "Org2MSP::b"], false),
    ]);
}

#[test]
fn nested_rules() {
    let policy = "OR(AND('Org1MSP.member', 'Org2MSP.member'), 'Org3MSP.admin')";
    check(&[
        (policy, &["Org1MSP::a", "Org2MSP::b"], true),
        (policy, &["Org3MSP:admin:c"], true),
        (policy, &["Org1MSP::a", "Org3MSP::c"], false),
        (policy, &["Org2MSP::b"], false),
    ]);
}

/// Fabric's TestComplexNestedSignature: AND(OR(AND(s0, s1), AND(s0, s0)), s0) over
/// identity principals, where repeats are distinct signers at this level.
#[test]
fn complex_nested_signature_with_repeated_principals() {
    let (s0, s1) = ("Org1MSP::signer0", "Org1MSP::signer1");
    let rule = and(vec![
        or(vec![
            and(vec![signed_by(0), signed_by(1)]),
            and(vec![signed_by(0), signed_by(0)]),
        ]),
        signed_by(0),
    ]);
    let env = envelope(rule, vec![identity_principal(s0), identity_principal(s1)]);
    let policy = CompiledSignaturePolicy::compile(&env).unwrap();
    for (signers, expected) in [
        (vec![s0, s1, s0], true),
        (vec![s0, s0, s0], true),
        (vec![s0, s1], false),
        (vec![s0, s1, s1], false),
    ] {
        assert_eq!(
            policy.is_satisfied_by(&ids(&signers)),
            expected,
            "{signers:?}"
        );
    }
}

/// A leaf takes the first matching unused identity, in signature order, without
/// backtracking: Fabric fails AND(member, admin) when the admin signed first, and
/// so must every orderer of the channel.
#[test]
fn greedy_assignment_in_signature_order_as_fabric() {
    let policy = "AND('Org1MSP.member', 'Org1MSP.admin')";
    check(&[
        (policy, &["Org1MSP:admin:boss", "Org1MSP::worker"], false),
        (policy, &["Org1MSP::worker", "Org1MSP:admin:boss"], true),
    ]);
}

/// A gate evaluates each rule on a copy of the used marks and keeps the copy only
/// when the rule is satisfied: a failed AND gives back the identity it took.
#[test]
fn failed_sub_rule_gives_back_its_identities() {
    let policy = "OR(AND('Org1MSP.member', 'Org2MSP.member'), 'Org1MSP.member')";
    check(&[(policy, &["Org1MSP::a"], true)]);
    // Nested: a satisfied gate keeps only its satisfied rules' marks, so the AND
    // it tried and dropped leaves the member for the next rule.
    let policy = "AND(OutOf(0, AND('Org1MSP.member', 'Org2MSP.member')), 'Org1MSP.member')";
    check(&[(policy, &["Org1MSP::a"], true)]);
}

/// A gate does not stop at its threshold: every satisfied rule keeps its marks, so
/// AND(OR(m, m), m) consumes both members in the OR and fails with two signers.
#[test]
fn gate_tries_every_rule_and_keeps_their_marks() {
    let policy = "AND(OR('Org1MSP.member', 'Org1MSP.member'), 'Org1MSP.member')";
    check(&[
        (policy, &["Org1MSP::a", "Org1MSP::b"], false),
        (policy, &["Org1MSP::a", "Org1MSP::b", "Org1MSP::c"], true),
    ]);
}

#[test]
fn accept_all_is_satisfied_by_nothing_at_all() {
    let policy = CompiledSignaturePolicy::compile(&crate::policies::dsl::accept_all()).unwrap();
    assert!(policy.is_satisfied_by(&[]));
    assert!(policy.is_satisfied_by(&ids(&["Org4MSP::x"])));
    let zero = compile("OutOf(0, 'Org1MSP.admin')");
    assert!(zero.is_satisfied_by(&[]));
}

fn compile_err(env: SignaturePolicyEnvelope) -> CompileError {
    CompiledSignaturePolicy::compile(&env).unwrap_err()
}

#[test]
fn signed_by_index_out_of_range_is_refused_at_compile() {
    let principals = vec![identity_principal("Org1MSP::a")];
    for index in [1, 7, -1, i32::MIN] {
        let err = compile_err(envelope(
            or(vec![signed_by(0), signed_by(index)]),
            principals.clone(),
        ));
        assert_eq!(
            err,
            CompileError::SignedByOutOfRange {
                at: "rule.rules[1]".into(),
                index,
                identities: 1,
            }
        );
    }
    let err = compile_err(envelope(signed_by(0), vec![]));
    assert_eq!(
        err.to_string(),
        "rule is signed_by(0) but the policy lists 0 identities"
    );
}

#[test]
fn n_out_of_out_of_range_is_refused_at_compile() {
    let principals = vec![identity_principal("Org1MSP::a")];
    for n in [-1, 3, i32::MAX, i32::MIN] {
        let rule = n_out_of(n, vec![signed_by(0), signed_by(0)]);
        let err = compile_err(envelope(rule, principals.clone()));
        assert_eq!(
            err,
            CompileError::NOutOfRange {
                at: "rule".into(),
                n,
                rules: 2
            }
        );
    }
    // Fabric's RejectAllPolicy (1 of no rule) is refused too.
    let err = compile_err(envelope(n_out_of(1, vec![]), vec![]));
    assert!(matches!(
        err,
        CompileError::NOutOfRange { n: 1, rules: 0, .. }
    ));
}

#[test]
fn missing_rule_is_refused_at_compile() {
    let principals = vec![identity_principal("Org1MSP::a")];
    let no_rule = SignaturePolicyEnvelope {
        version: 0,
        rule: None,
        identities: principals.clone(),
    };
    assert_eq!(
        compile_err(no_rule),
        CompileError::MissingRule { at: "rule".into() }
    );
    // Fabric's TestNegatively: a rule whose oneof is unset.
    let untyped = envelope(
        or(vec![signed_by(0), SignaturePolicy { r#type: None }]),
        principals,
    );
    assert_eq!(
        compile_err(untyped),
        CompileError::MissingRule {
            at: "rule.rules[1]".into()
        }
    );
}

#[test]
fn nesting_too_deep_is_refused_at_compile() {
    let principals = vec![identity_principal("Org1MSP::a")];
    let nest = |levels: usize| {
        let mut rule = signed_by(0);
        for _ in 1..levels {
            rule = or(vec![rule]);
        }
        envelope(rule, principals.clone())
    };
    assert!(CompiledSignaturePolicy::compile(&nest(MAX_RULE_DEPTH)).is_ok());
    assert!(matches!(
        compile_err(nest(MAX_RULE_DEPTH + 1)),
        CompileError::TooDeep {
            max: MAX_RULE_DEPTH,
            ..
        }
    ));
    assert!(matches!(
        compile_err(nest(1_000)),
        CompileError::TooDeep { .. }
    ));
}

#[test]
fn only_version_zero_is_understood() {
    let mut env = envelope(signed_by(0), vec![identity_principal("Org1MSP::a")]);
    env.version = 1;
    assert_eq!(compile_err(env), CompileError::UnsupportedVersion(1));
}

#[test]
fn garbage_policy_bytes_are_refused() {
    let err =
        CompiledSignaturePolicy::decode(bytes::Bytes::from_static(&[0xff, 0xff])).unwrap_err();
    assert!(matches!(
        err,
        CompileError::Decode {
            message: "SignaturePolicyEnvelope",
            ..
        }
    ));
}

#[test]
fn renders_in_fabric_policy_language() {
    for (dsl, rendered) in [
        (
            "OR('Org1MSP.member', 'Org2MSP.admin')",
            "OR('Org1MSP.member', 'Org2MSP.admin')",
        ),
        (
            "AND('A.peer', OR('B.client', 'C.orderer'))",
            "AND('A.peer', OR('B.client', 'C.orderer'))",
        ),
        (
            "OutOf(2, 'A.member', 'B.member', 'C.member')",
            "OutOf(2, 'A.member', 'B.member', 'C.member')",
        ),
        (
            "outof(2, 'A.client', or('B.orderer', 'C.member'), 'C.admin')",
            "OutOf(2, 'A.client', OR('B.orderer', 'C.member'), 'C.admin')",
        ),
    ] {
        assert_eq!(compile(dsl).to_string(), rendered);
    }
    let env = envelope(or(vec![signed_by(0)]), vec![identity_principal("x")]);
    let policy = CompiledSignaturePolicy::compile(&env).unwrap();
    assert_eq!(policy.to_string(), "OR(<IDENTITY principal 0>)");
}

#[test]
fn rendering_of_a_huge_policy_is_bounded() {
    let many: Vec<String> = (0..500).map(|i| format!("'Org{i}MSP.member'")).collect();
    let policy = compile(&format!("OR({})", many.join(", ")));
    let rendered = policy.to_string();
    assert!(rendered.len() < 700, "{} bytes", rendered.len());
    assert!(rendered.ends_with("...)"), "{rendered}");
}

/// Tiny deterministic generator for the property tests (no dependency).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as usize
    }
}

/// A random gate tree over distinct principals `0..`, and its boolean meaning.
enum Formula {
    Leaf(usize),
    Gate(usize, Vec<Formula>),
}

fn random_formula(rng: &mut XorShift, next_leaf: &mut usize, depth: usize) -> Formula {
    if depth == 0 || *next_leaf >= 6 || rng.next(3) == 0 {
        *next_leaf += 1;
        return Formula::Leaf(*next_leaf - 1);
    }
    let count = 1 + rng.next(3);
    let rules: Vec<Formula> = (0..count)
        .map(|_| random_formula(rng, next_leaf, depth - 1))
        .collect();
    Formula::Gate(rng.next(rules.len() + 1), rules)
}

impl Formula {
    fn to_proto(&self) -> SignaturePolicy {
        match self {
            Formula::Leaf(i) => signed_by(*i as i32),
            Formula::Gate(n, rules) => {
                n_out_of(*n as i32, rules.iter().map(Formula::to_proto).collect())
            }
        }
    }

    fn holds(&self, signed: &[bool]) -> bool {
        match self {
            Formula::Leaf(i) => signed[*i],
            Formula::Gate(n, rules) => rules.iter().filter(|r| r.holds(signed)).count() >= *n,
        }
    }
}

/// When no principal is named twice and each signer satisfies one principal, the
/// greedy evaluation is exactly the boolean formula, whatever the signature order.
#[test]
fn with_distinct_principals_a_policy_is_its_boolean_formula() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let mut leaves = 0;
        let formula = random_formula(&mut rng, &mut leaves, 3);
        let principals = (0..leaves)
            .map(|i| identity_principal(&format!("Org1MSP::p{i}")))
            .collect();
        let policy =
            CompiledSignaturePolicy::compile(&envelope(formula.to_proto(), principals)).unwrap();
        for mask in 0..(1u32 << leaves) {
            let signed: Vec<bool> = (0..leaves).map(|i| mask & (1 << i) != 0).collect();
            let mut signers: Vec<Arc<dyn Identity>> = (0..leaves)
                .filter(|i| signed[*i])
                .map(|i| id(&format!("Org1MSP::p{i}")))
                .collect();
            // An outsider's signature changes nothing.
            signers.insert(rng.next(signers.len() + 1), id("Org2MSP::outsider"));
            let expected = formula.holds(&signed);
            assert_eq!(
                policy.is_satisfied_by(&signers),
                expected,
                "{policy} mask {mask:b}"
            );
            signers.reverse();
            assert_eq!(
                policy.is_satisfied_by(&signers),
                expected,
                "{policy} reversed"
            );
        }
    }
}

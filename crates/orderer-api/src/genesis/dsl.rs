//! Fabric's policy language, as configtx.yaml writes policies: `Signature` rules such
//! as `OR('Org1MSP.admin', AND('Org2MSP.peer', 'Org3MSP.peer'))` and `ImplicitMeta`
//! rules such as `MAJORITY Admins`.
//!
//! Gates are `AND`, `OR` and `OutOf(n, ...)` in upper, lower or title case (Fabric
//! accepts those three spellings); principals are quoted `'<MSP ID>.<role>'`.

use std::str::FromStr;

use super::policy::{MetaRule, PolicySpec, Principal, Role, SignatureRule};

/// Why a policy text could not be read, with the text and the position at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("policy {text:?}: {reason}")]
pub struct PolicyParseError {
    pub text: String,
    pub reason: String,
}

impl PolicySpec {
    /// A policy as configtx.yaml writes it: `kind` is `Signature` or `ImplicitMeta`.
    pub fn parse(kind: &str, rule: &str) -> Result<Self, PolicyParseError> {
        match kind {
            "Signature" => rule.parse().map(PolicySpec::Signature),
            "ImplicitMeta" => parse_implicit_meta(rule),
            _ => Err(PolicyParseError {
                text: rule.to_owned(),
                reason: format!("unknown policy type {kind:?}: expected Signature or ImplicitMeta"),
            }),
        }
    }
}

/// `<ANY|ALL|MAJORITY> <sub-policy>`.
fn parse_implicit_meta(text: &str) -> Result<PolicySpec, PolicyParseError> {
    let err = |reason: &str| PolicyParseError {
        text: text.to_owned(),
        reason: reason.to_owned(),
    };
    let mut words = text.split_whitespace();
    let (Some(rule), Some(sub_policy), None) = (words.next(), words.next(), words.next()) else {
        return Err(err("expected '<ANY|ALL|MAJORITY> <policy name>'"));
    };
    let rule = [MetaRule::Any, MetaRule::All, MetaRule::Majority]
        .into_iter()
        .find(|r| r.as_str().eq_ignore_ascii_case(rule))
        .ok_or_else(|| err("the rule must be ANY, ALL or MAJORITY"))?;
    Ok(PolicySpec::implicit_meta(rule, sub_policy))
}

impl FromStr for SignatureRule {
    type Err = PolicyParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut p = Parser { text, pos: 0 };
        let rule = p.rule(0)?;
        p.skip_space();
        if p.pos != text.len() {
            return Err(p.error("unexpected text after the rule"));
        }
        rule.check().map_err(|reason| PolicyParseError {
            text: text.to_owned(),
            reason,
        })?;
        Ok(rule)
    }
}

/// Nesting deeper than this is refused, so a hostile text cannot exhaust the stack.
const MAX_DEPTH: usize = 32;

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &str) -> PolicyParseError {
        PolicyParseError {
            text: self.text.to_owned(),
            reason: format!("{reason} at offset {}", self.pos),
        }
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_space(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), PolicyParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{c}'")))
        }
    }

    fn rule(&mut self, depth: usize) -> Result<SignatureRule, PolicyParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error("rules are nested too deeply"));
        }
        self.skip_space();
        if self.rest().starts_with(['\'', '"']) {
            return self.principal().map(SignatureRule::SignedBy);
        }
        let word_len = self
            .rest()
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(self.rest().len());
        let word = &self.rest()[..word_len];
        // Fabric registers each gate in three spellings, not in every case.
        let gate = match word {
            "AND" | "And" | "and" => Gate::And,
            "OR" | "Or" | "or" => Gate::Or,
            "OUTOF" | "OutOf" | "outof" => Gate::OutOf,
            _ => {
                return Err(
                    self.error("expected AND(...), OR(...), OutOf(n, ...) or a quoted principal")
                );
            }
        };
        self.pos += word_len;
        self.expect('(')?;
        let n = match gate {
            Gate::OutOf => {
                let n = self.number()?;
                self.expect(',')?;
                Some(n)
            }
            Gate::And | Gate::Or => None,
        };
        let mut rules = vec![self.rule(depth + 1)?];
        while self.eat(',') {
            rules.push(self.rule(depth + 1)?);
        }
        self.expect(')')?;
        let n = match gate {
            Gate::Or => 1,
            Gate::And => u32::try_from(rules.len()).unwrap_or(u32::MAX),
            Gate::OutOf => n.unwrap_or(0),
        };
        Ok(SignatureRule::OutOf(n, rules))
    }

    fn number(&mut self) -> Result<u32, PolicyParseError> {
        self.skip_space();
        let len = self
            .rest()
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(self.rest().len());
        let n = self.rest()[..len]
            .parse()
            .map_err(|_| self.error("expected a number"))?;
        self.pos += len;
        Ok(n)
    }

    /// `'<MSP ID>.<role>'`: the MSP ID is everything before the last dot, and holds
    /// only ASCII letters, digits, dots and dashes (Fabric's rule).
    fn principal(&mut self) -> Result<Principal, PolicyParseError> {
        let rest = self.rest();
        let Some(quote) = rest.chars().next() else {
            return Err(self.error("expected a quoted principal"));
        };
        let Some(end) = rest[1..].find(quote) else {
            return Err(self.error("unterminated principal"));
        };
        let inner = &rest[1..1 + end];
        let bad = |reason: &str| self.error(&format!("principal '{inner}': {reason}"));
        let (msp_id, role) = inner
            .rsplit_once('.')
            .ok_or_else(|| bad("expected '<MSP ID>.<role>'"))?;
        let role = Role::ALL
            .into_iter()
            .find(|r| r.as_str() == role)
            .ok_or_else(|| bad("the role must be member, admin, client, peer or orderer"))?;
        if msp_id.is_empty()
            || !msp_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(bad(
                "the MSP ID must be ASCII letters, digits, dots or dashes",
            ));
        }
        let principal = Principal::new(msp_id, role);
        self.pos += end + 2;
        Ok(principal)
    }
}

#[derive(Clone, Copy)]
enum Gate {
    And,
    Or,
    OutOf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesis::policy::Role::*;

    fn p(msp: &str, role: Role) -> SignatureRule {
        SignatureRule::SignedBy(Principal::new(msp, role))
    }

    #[test]
    fn parses_the_gates_in_fabric_spellings() {
        let cases = [
            (
                "OR('SampleOrg.member')",
                SignatureRule::OutOf(1, vec![p("SampleOrg", Member)]),
            ),
            (
                "and('A.admin', \"B.peer\")",
                SignatureRule::OutOf(2, vec![p("A", Admin), p("B", Peer)]),
            ),
            (
                " OutOf(2, 'A.client', Or('B.orderer', 'my.org-1.member'), 'C.admin') ",
                SignatureRule::OutOf(
                    2,
                    vec![
                        p("A", Client),
                        SignatureRule::OutOf(1, vec![p("B", Orderer), p("my.org-1", Member)]),
                        p("C", Admin),
                    ],
                ),
            ),
            ("'A.peer'", p("A", Peer)),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<SignatureRule>(), Ok(want), "{text}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "OR('A.member')",
            "AND('A.admin', 'B.peer')",
            "OutOf(2, 'A.client', OR('B.orderer', 'C.member'), 'C.admin')",
        ] {
            let rule: SignatureRule = text.parse().unwrap();
            assert_eq!(rule.to_string(), text);
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let cases = [
            ("", "expected AND"),
            ("XOR('A.member')", "expected AND"),
            ("OR('A.member'", "expected ')'"),
            ("OR('A.member') x", "unexpected text"),
            ("OR('A.boss')", "the role must be"),
            ("OR('A member.admin')", "the MSP ID must be"),
            ("OR('.admin')", "the MSP ID must be"),
            ("OR('A.admin)", "unterminated"),
            ("OutOf(3, 'A.admin', 'B.admin')", "can never be satisfied"),
            ("OutOf(x, 'A.admin')", "expected a number"),
            ("Or()", "expected AND"),
        ];
        for (text, want) in cases {
            let err = text.parse::<SignatureRule>().unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
        let deep = format!("{}'A.member'{}", "OR(".repeat(40), ")".repeat(40));
        assert!(
            deep.parse::<SignatureRule>()
                .unwrap_err()
                .reason
                .contains("too deeply")
        );
    }

    #[test]
    fn parses_implicit_meta_and_refuses_unknown_kinds() {
        assert_eq!(
            PolicySpec::parse("ImplicitMeta", "MAJORITY Admins"),
            Ok(PolicySpec::implicit_meta(MetaRule::Majority, "Admins"))
        );
        assert_eq!(
            PolicySpec::parse("ImplicitMeta", "any Readers"),
            Ok(PolicySpec::implicit_meta(MetaRule::Any, "Readers"))
        );
        for bad in ["MAJORITY", "SOME Admins", "ANY Readers Writers"] {
            assert!(PolicySpec::parse("ImplicitMeta", bad).is_err(), "{bad}");
        }
        assert!(
            PolicySpec::parse("Meta", "ANY Readers")
                .unwrap_err()
                .reason
                .contains("unknown policy type")
        );
    }
}

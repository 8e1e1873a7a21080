//! Fabric's signature policy language, as configtx.yaml writes it:
//!
//! ```text
//! policy    := gate
//! gate      := ("AND" | "OR") "(" arg ("," arg)* ")"
//!            | "OutOf" "(" count ("," arg)+ ")"
//! arg       := gate | principal
//! principal := 'MSPID.role'        role: member, admin, client, peer, orderer
//! count     := integer, or an integer in quotes
//! ```
//!
//! Gate names are accepted in Fabric's three spellings (`AND`, `And`, `and`;
//! `OutOf`, `outof`, `OUTOF`), strings in single or double quotes, and an MSP ID is
//! ASCII letters, digits, '.' and '-'.
//!
//! Principals are numbered as Fabric's parser numbers them, so the envelope has the
//! same bytes: a gate first numbers the principals of its nested gates (left to
//! right), then its own; a principal named twice is listed twice.

use super::{DslError, DslReason, envelope, n_out_of, role_principal, signed_by};
use crate::policies::MAX_RULE_DEPTH;
use crate::proto::common::msp_role::MspRoleType;
use crate::proto::common::{MspPrincipal, SignaturePolicy, SignaturePolicyEnvelope};

/// Parses a signature policy string such as `OR('Org1MSP.member', 'Org2MSP.admin')`
/// or `OutOf(2, 'A.peer', 'B.peer', 'C.peer')` into an envelope.
///
/// The count of `OutOf` is bounded as Fabric's parser bounds it: from 0 to one more
/// than the number of rules. A count above the number of rules parses, as it does
/// for configtxgen, into a policy nothing satisfies; the policy engine refuses to
/// compile that one. Gates nested deeper than [`MAX_RULE_DEPTH`] are refused (the
/// engine would refuse them too).
pub fn parse_signature_policy(input: &str) -> Result<SignaturePolicyEnvelope, DslError> {
    let mut parser = Parser { input, pos: 0 };
    let gate = parser
        .gate(0)
        .map_err(|reason| DslError::new(input, reason))?;
    parser.skip_whitespace();
    if parser.pos < input.len() {
        return Err(DslError::new(
            input,
            DslReason::TrailingText { offset: parser.pos },
        ));
    }
    let mut principals = Vec::new();
    let rule = number(gate, &mut principals);
    Ok(envelope(rule, principals))
}

/// A parsed gate, before its principals are numbered.
struct Gate {
    n: i32,
    args: Vec<Arg>,
}

enum Arg {
    Gate(Gate),
    Principal(MspPrincipal),
}

/// Builds the rule of `gate`, numbering principals as Fabric does (nested gates
/// first, then the gate's own principals).
fn number(gate: Gate, principals: &mut Vec<MspPrincipal>) -> SignaturePolicy {
    let mut built: Vec<Result<SignaturePolicy, MspPrincipal>> = Vec::with_capacity(gate.args.len());
    for arg in gate.args {
        built.push(match arg {
            Arg::Gate(nested) => Ok(number(nested, principals)),
            Arg::Principal(p) => Err(p),
        });
    }
    let rules = built
        .into_iter()
        .map(|rule| {
            rule.unwrap_or_else(|principal| {
                let index = i32::try_from(principals.len()).unwrap_or(i32::MAX);
                principals.push(principal);
                signed_by(index)
            })
        })
        .collect();
    n_out_of(gate.n, rules)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum GateKind {
    And,
    Or,
    OutOf,
}

struct Parser<'a> {
    input: &'a str,
    /// Byte offset of the next unread character.
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        self.input.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn expect(&mut self, c: char) -> Result<(), DslReason> {
        self.skip_whitespace();
        match self.peek() {
            Some(found) if found == c => {
                self.pos += c.len_utf8();
                Ok(())
            }
            Some(found) => Err(DslReason::Expected {
                expected: c,
                offset: self.pos,
                found,
            }),
            None => Err(DslReason::ExpectedAtEnd(c)),
        }
    }

    /// A run of characters satisfying `f` (possibly empty).
    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        let len = self
            .rest()
            .char_indices()
            .find(|&(_, c)| !f(c))
            .map_or(self.rest().len(), |(i, _)| i);
        self.pos += len;
        self.input.get(start..self.pos).unwrap_or("")
    }

    fn gate(&mut self, depth: usize) -> Result<Gate, DslReason> {
        // A gate at `depth` holds rules at `depth + 1`: keep those within the limit
        // the compiler enforces.
        if depth + 1 >= MAX_RULE_DEPTH {
            return Err(DslReason::TooDeep { offset: self.pos });
        }
        self.skip_whitespace();
        let start = self.pos;
        let name = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
        let kind = match name {
            "AND" | "And" | "and" => GateKind::And,
            "OR" | "Or" | "or" => GateKind::Or,
            "OutOf" | "outof" | "OUTOF" => GateKind::OutOf,
            "" => {
                return Err(match self.peek() {
                    Some(found) => DslReason::ExpectedGate {
                        offset: start,
                        found,
                    },
                    None => DslReason::ExpectedGateAtEnd,
                });
            }
            other => {
                self.skip_whitespace();
                return Err(if self.peek() == Some('(') {
                    DslReason::UnknownGate {
                        name: other.to_owned(),
                        offset: start,
                    }
                } else {
                    DslReason::UnrecognizedToken {
                        token: other.to_owned(),
                        offset: start,
                    }
                });
            }
        };
        self.expect('(')?;
        let n = match kind {
            GateKind::OutOf => {
                let n = self.count()?;
                self.expect(',')?;
                Some(n)
            }
            GateKind::And | GateKind::Or => None,
        };
        let mut args = vec![self.arg(depth)?];
        loop {
            self.skip_whitespace();
            match self.peek() {
                Some(',') => {
                    self.pos += 1;
                    args.push(self.arg(depth)?);
                }
                Some(')') => {
                    self.pos += 1;
                    break;
                }
                Some(found) => {
                    return Err(DslReason::ExpectedCommaOrClose {
                        offset: self.pos,
                        found,
                    });
                }
                None => return Err(DslReason::ExpectedAtEnd(')')),
            }
        }
        let rules = args.len();
        let n = match (kind, n) {
            (GateKind::OutOf, Some(n)) => n,
            (GateKind::Or, _) => 1,
            _ => i64::try_from(rules).unwrap_or(i64::MAX),
        };
        // Fabric's bound: "permit equal to n+1, but disallow over n+1".
        let max = rules.saturating_add(1);
        match i32::try_from(n) {
            Ok(n) if n >= 0 && usize::try_from(n).is_ok_and(|n| n <= max) => Ok(Gate { n, args }),
            _ => Err(DslReason::CountOutOfRange {
                offset: start,
                n,
                rules,
                max,
            }),
        }
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, DslReason> {
        self.skip_whitespace();
        match self.peek() {
            Some('\'' | '"') => Ok(Arg::Principal(self.principal()?)),
            _ => Ok(Arg::Gate(self.gate(depth + 1)?)),
        }
    }

    /// The count of OutOf: an integer, possibly negative (refused later with a
    /// clear message), bare or quoted as Fabric accepts.
    fn count(&mut self) -> Result<i64, DslReason> {
        self.skip_whitespace();
        let start = self.pos;
        let text = match self.peek() {
            Some('\'' | '"') => self.quoted()?,
            _ => self
                .take_while(|c| c.is_ascii_digit() || c == '-')
                .to_owned(),
        };
        text.parse::<i64>().map_err(|_| DslReason::BadCount {
            offset: start,
            found: text,
        })
    }

    /// A quoted string, without its quotes.
    fn quoted(&mut self) -> Result<String, DslReason> {
        let start = self.pos;
        let Some(quote) = self.peek() else {
            return Err(DslReason::ExpectedStringAtEnd);
        };
        self.pos += quote.len_utf8();
        let body = self.take_while(|c| c != quote).to_owned();
        if self.peek() != Some(quote) {
            return Err(DslReason::UnterminatedString { offset: start });
        }
        self.pos += quote.len_utf8();
        Ok(body)
    }

    fn principal(&mut self) -> Result<MspPrincipal, DslReason> {
        let start = self.pos;
        let text = self.quoted()?;
        let invalid = || DslReason::InvalidPrincipal {
            principal: text.clone(),
            offset: start,
        };
        let (msp_id, role) = text.rsplit_once('.').ok_or_else(invalid)?;
        let role = match role {
            "member" => MspRoleType::Member,
            "admin" => MspRoleType::Admin,
            "client" => MspRoleType::Client,
            "peer" => MspRoleType::Peer,
            "orderer" => MspRoleType::Orderer,
            _ => return Err(invalid()),
        };
        let valid_id = !msp_id.is_empty()
            && msp_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !valid_id {
            return Err(invalid());
        }
        Ok(role_principal(msp_id, role))
    }
}

//! Certificate chains as Fabric's MSP builds them with Go's `x509.Verify`: every
//! path from a certificate through the MSP's intermediates to one of its roots, each
//! certificate checked as Go checks it, at the moment the certificate was issued
//! (Fabric validates at `NotBefore + 1s`, so that validation does not depend on the
//! clock; expiry is checked where identities are used). Fabric accepts only a
//! certificate with exactly one such path.

use crate::cert::{Cert, CertError};

/// Why a certificate has no single valid chain to a root CA of the MSP. Subjects are
/// the certificates' subject names.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("{subject:?} expires ({not_after}) before it is valid")]
    ExpiresBeforeValid { subject: String, not_after: String },
    #[error("{subject:?} has an unhandled critical extension {oid}")]
    UnhandledCriticalExtension { subject: String, oid: String },
    /// No chain; `why` is the last reason a candidate issuer was refused.
    #[error("{subject:?} does not chain to a root CA of the MSP: {why}")]
    NoChain {
        subject: String,
        #[source]
        why: Box<ChainError>,
    },
    #[error("{subject:?} was not issued by a CA of the MSP (its issuer is not among them)")]
    IssuerUnknown { subject: String },
    #[error(
        "{subject:?}: a certificate of its chain has an extended key usage without serverAuth \
         or any (Go's x509 verification, which Fabric uses, refuses it: incompatible key usage)"
    )]
    IncompatibleKeyUsage { subject: String },
    #[error(
        "{subject:?} has {usable} validation chains (of {found} found); Fabric's MSP supports only one"
    )]
    SeveralChains {
        subject: String,
        usable: usize,
        found: usize,
    },
    #[error("the chain is longer than {max} certificates")]
    TooLong { max: usize },
    #[error("too many signature checks")]
    TooManySignatureChecks,
    #[error("{subject:?} is not a CA")]
    NotCa { subject: String },
    #[error("{subject:?} may not sign certificates (keyUsage without keyCertSign)")]
    NoKeyCertSign { subject: String },
    #[error(transparent)]
    Signature(#[from] CertError),
    #[error(
        "{subject:?} is not valid when the certificate was issued (it is valid from {not_before} to {not_after})"
    )]
    IssuerNotValidThen {
        subject: String,
        not_before: String,
        not_after: String,
    },
    #[error("{subject:?} has name constraints, which this MSP does not support")]
    NameConstraints { subject: String },
    #[error("{subject:?} is not a CA (basicConstraints)")]
    IntermediateNotCa { subject: String },
    #[error("{subject:?} allows {max} intermediate CAs below it, the chain has {below}")]
    PathLength {
        subject: String,
        max: u32,
        below: usize,
    },
}

/// Go's limit on signature checks while building chains for one certificate.
const MAX_SIGNATURE_CHECKS: usize = 100;
/// Chains longer than this are not followed (Fabric's MSPs use one or two levels).
const MAX_DEPTH: usize = 8;

/// The certificates a chain may go through.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pools<'a> {
    pub(crate) roots: &'a [Cert],
    pub(crate) intermediates: &'a [Cert],
}

/// The certificates of `certs` without repeats (Go's certificate pools hold each once).
pub(crate) fn dedup(certs: Vec<Cert>) -> Vec<Cert> {
    let mut out: Vec<Cert> = Vec::with_capacity(certs.len());
    for c in certs {
        if !out.iter().any(|o| o.der == c.der) {
            out.push(c);
        }
    }
    out
}

/// The single chain of `leaf` (leaf first, root last), valid when `leaf` was issued,
/// or why there is none or more than one.
pub(crate) fn unique_chain<'a>(
    leaf: &'a Cert,
    pools: Pools<'a>,
) -> Result<Vec<&'a Cert>, ChainError> {
    let at = leaf.not_before.saturating_add(1);
    if at > leaf.not_after {
        return Err(ChainError::ExpiresBeforeValid {
            subject: leaf.subject_text.clone(),
            not_after: leaf.not_after_text.clone(),
        });
    }
    chain(leaf, pools, Some(at))
}

/// [`unique_chain`] without any check of validity periods, for callers that check them
/// at their own time.
pub(crate) fn unique_chain_any_time<'a>(
    leaf: &'a Cert,
    pools: Pools<'a>,
) -> Result<Vec<&'a Cert>, ChainError> {
    chain(leaf, pools, None)
}

fn chain<'a>(
    leaf: &'a Cert,
    pools: Pools<'a>,
    at: Option<i64>,
) -> Result<Vec<&'a Cert>, ChainError> {
    if let Some(oid) = &leaf.unhandled_critical {
        return Err(ChainError::UnhandledCriticalExtension {
            subject: leaf.subject_text.clone(),
            oid: oid.clone(),
        });
    }
    let mut chains = Vec::new();
    let mut why = None;
    if pools.roots.iter().any(|r| r.der == leaf.der) {
        chains.push(vec![leaf]);
    } else {
        let mut search = Search {
            pools,
            at,
            chains: &mut chains,
            checks: 0,
            why: &mut why,
        };
        search.extend(&mut vec![leaf]);
    }
    if chains.is_empty() {
        let subject = leaf.subject_text.clone();
        return Err(match why {
            Some(why) => ChainError::NoChain {
                subject,
                why: Box::new(why),
            },
            None => ChainError::IssuerUnknown { subject },
        });
    }
    // Go's default key usage: every certificate of the chain must allow serverAuth.
    let found = chains.len();
    chains.retain(|c| c.iter().all(|x| x.server_auth_usable));
    match chains.len() {
        1 => Ok(chains.swap_remove(0)),
        0 => Err(ChainError::IncompatibleKeyUsage {
            subject: leaf.subject_text.clone(),
        }),
        usable => Err(ChainError::SeveralChains {
            subject: leaf.subject_text.clone(),
            usable,
            found,
        }),
    }
}

struct Search<'a, 'o> {
    pools: Pools<'a>,
    at: Option<i64>,
    chains: &'o mut Vec<Vec<&'a Cert>>,
    checks: usize,
    why: &'o mut Option<ChainError>,
}

impl<'a> Search<'a, '_> {
    fn extend(&mut self, chain: &mut Vec<&'a Cert>) {
        let Some(&child) = chain.last() else { return };
        if chain.len() > MAX_DEPTH {
            *self.why = Some(ChainError::TooLong { max: MAX_DEPTH });
            return;
        }
        let candidates = self
            .pools
            .roots
            .iter()
            .map(|c| (c, true))
            .chain(self.pools.intermediates.iter().map(|c| (c, false)));
        for (candidate, is_root) in candidates {
            if candidate.subject != child.issuer
                || chain
                    .iter()
                    .any(|c| c.subject == candidate.subject && c.key == candidate.key)
            {
                continue;
            }
            self.checks += 1;
            if self.checks > MAX_SIGNATURE_CHECKS {
                *self.why = Some(ChainError::TooManySignatureChecks);
                return;
            }
            if let Err(e) = may_issue(candidate, child) {
                *self.why = Some(e);
                continue;
            }
            if let Err(e) = valid_as_issuer(candidate, is_root, chain.len() - 1, self.at) {
                *self.why = Some(e);
                continue;
            }
            chain.push(candidate);
            if is_root {
                self.chains.push(chain.clone());
            } else {
                self.extend(chain);
            }
            chain.pop();
        }
    }
}

/// Go's `CheckSignatureFrom`: the parent is a CA allowed to sign certificates, and its
/// key signed the child.
pub(crate) fn may_issue(parent: &Cert, child: &Cert) -> Result<(), ChainError> {
    // Version 3 (encoded 2) without basicConstraints, or cA false: not a CA.
    if (parent.version == 2 && parent.is_ca.is_none()) || parent.is_ca == Some(false) {
        return Err(ChainError::NotCa {
            subject: parent.subject_text.clone(),
        });
    }
    if parent.key_cert_sign == Some(false) {
        return Err(ChainError::NoKeyCertSign {
            subject: parent.subject_text.clone(),
        });
    }
    Ok(child.verify_signed_by(parent)?)
}

/// Go's checks of a certificate above the leaf: `below` intermediates lie between it
/// and the leaf; valid at `at` if given.
fn valid_as_issuer(
    c: &Cert,
    is_root: bool,
    below: usize,
    at: Option<i64>,
) -> Result<(), ChainError> {
    let subject = || c.subject_text.clone();
    if let Some(oid) = &c.unhandled_critical {
        return Err(ChainError::UnhandledCriticalExtension {
            subject: subject(),
            oid: oid.clone(),
        });
    }
    if at.is_some_and(|at| at < c.not_before || at > c.not_after) {
        return Err(ChainError::IssuerNotValidThen {
            subject: subject(),
            not_before: c.not_before_text.clone(),
            not_after: c.not_after_text.clone(),
        });
    }
    if c.has_name_constraints {
        // Go checks the leaf's names against them; that is not implemented here, so
        // such a CA is refused rather than trusted beyond its constraints.
        return Err(ChainError::NameConstraints { subject: subject() });
    }
    if !is_root && c.is_ca != Some(true) {
        return Err(ChainError::IntermediateNotCa { subject: subject() });
    }
    if let Some(max) = c.path_len {
        if below > max as usize {
            return Err(ChainError::PathLength {
                subject: subject(),
                max,
                below,
            });
        }
    }
    Ok(())
}

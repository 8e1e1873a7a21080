//! The orderer checks the Kafka cluster it is given (seed 003: "the cluster is part
//! of the contract"). Fabric never did, and operators get it wrong: a cluster with
//! unclean leader election or `min.insync.replicas = 1` loses acknowledged
//! envelopes or forks chains only on the day a broker fails.
//!
//! Two checks read the settings through Kafka's admin API (DescribeConfigs) and the
//! cluster metadata, and judge them with [`check`], a pure function over
//! [`ClusterFacts`]:
//! * the node's check, when the consenter is created: the brokers' own settings and
//!   their defaults for new topics, against `Kafka.Topic.ReplicationFactor` and the
//!   largest AbsoluteMaxBytes of the node's channels. It retries in the background
//!   until the brokers answer, and only ever warns.
//! * a channel's check, in the chain's start sequence once the topic is created or
//!   found: the topic's effective settings and replicas, the brokers'
//!   `replica.fetch.max.bytes`, the broker count, against the channel's
//!   AbsoluteMaxBytes.
//!
//! Each broken rule is a WARN line naming the setting, its value and the rule, a
//! warning on `/healthz` ([`orderer_api::Chain::warnings`],
//! [`orderer_api::Consenter::warnings`]) that does not fail it, and the gauges
//! [`crate::metrics::CLUSTER_RULE_VIOLATIONS`] and
//! [`crate::metrics::CHANNEL_RULE_VIOLATIONS`]. With `Kafka.Strict` a channel whose
//! cluster breaks a rule does not start: the check is a start step that fails, so
//! the chain stays `Starting` with the violations as its reason (Broadcast gets
//! SERVICE_UNAVAILABLE, `/healthz` fails naming the rule) and is checked again on the
//! `Kafka.Retry` schedule, so fixing the brokers' dynamic configuration is enough.
//!
//! What cannot be read is not a violation. When the brokers refuse DescribeConfigs
//! for good (the node's Kafka identity lacks the DescribeConfigs ACL, or the broker
//! does not implement it), the check warns that it could not run and why, and even
//! `Kafka.Strict` does not refuse: strict mode refuses clusters known to break a
//! rule, and must not force a least-privilege identity to hold cluster-wide
//! DescribeConfigs rights to order at all. A failure that may pass (a timeout, the
//! topic not yet in the metadata) is retried by a strict chain, which starts only
//! once the check has run.

mod gather;
mod rules;

use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::clients::Clients;
pub use gather::GatherError;
pub use rules::{
    BATCH_HEADER, ClusterFacts, Findings, KAFKA_MESSAGE_WRAPPING, RECORD_FIELDS, RECORD_MARGIN,
    Requirements, Resource, Rule, Settings, TopicFacts, Unchecked, Unreadable, Violation, check,
};

/// Why a strict chain does not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error(
        "Kafka.Strict is true and the Kafka cluster does not meet the cluster rules: {}",
        join(.0)
    )]
    Refused(Vec<Violation>),
    #[error("Kafka.Strict is true and the Kafka cluster's settings could not be checked yet: {0}")]
    Unverified(String),
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(T::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a check leads to: warnings to show, and in strict mode why to refuse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Shown on `/healthz` without failing it (and logged).
    pub warnings: Vec<String>,
    /// Set only in strict mode.
    pub refusal: Option<CheckError>,
}

/// Judges a check's outcome. In strict mode violations refuse, and so does a
/// failure that may pass (so that a strict chain starts only on a checked cluster);
/// a permanent refusal to describe does not (see the module's doc).
pub fn judge(outcome: &Result<Findings, GatherError>, strict: bool) -> Verdict {
    let findings = match outcome {
        Err(e) => {
            return Verdict {
                warnings: vec![format!(
                    "the Kafka cluster's settings could not be checked: {e}"
                )],
                refusal: strict.then(|| CheckError::Unverified(e.to_string())),
            };
        }
        Ok(f) => f,
    };
    let unchecked: Vec<String> = findings
        .unchecked
        .iter()
        .map(|u| format!("not checked: {u}"))
        .collect();
    if strict && !findings.violations.is_empty() {
        return Verdict {
            warnings: unchecked,
            refusal: Some(CheckError::Refused(findings.violations.clone())),
        };
    }
    let transient: Vec<&Unchecked> = findings.unchecked.iter().filter(|u| u.transient).collect();
    let refusal =
        (strict && !transient.is_empty()).then(|| CheckError::Unverified(join(&transient)));
    let mut warnings: Vec<String> = findings
        .violations
        .iter()
        .map(Violation::to_string)
        .collect();
    warnings.extend(unchecked);
    Verdict { warnings, refusal }
}

/// Warnings of a check, logged when they change (a strict chain checks again every
/// retry interval; the same lines again and again would drown the log).
#[derive(Debug, Default)]
struct Warnings {
    /// `None` until the first check.
    current: Mutex<Option<Vec<String>>>,
}

impl Warnings {
    fn get(&self) -> Vec<String> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default()
    }

    /// Keeps `next`, logging each line when the set differs from the last one (or
    /// is the first: a clean first check says so).
    fn set(&self, scope: &str, next: Vec<String>) {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.as_ref() != Some(&next) {
            for w in &next {
                warn!(scope, "Kafka cluster check: {w}");
            }
            if next.is_empty() {
                info!(
                    scope,
                    "Kafka cluster check: the cluster meets the Kafka cluster rules"
                );
            }
        }
        *current = Some(next);
    }
}

/// A channel's check, run by its chain's start sequence.
#[derive(Debug)]
pub(crate) struct ChannelCheck {
    channel: String,
    warnings: Warnings,
}

impl ChannelCheck {
    pub(crate) fn new(channel: &str) -> Self {
        ChannelCheck {
            channel: channel.to_owned(),
            warnings: Warnings::default(),
        }
    }

    pub(crate) fn warnings(&self) -> Vec<String> {
        self.warnings.get()
    }

    /// Gathers and judges once: whether the check is complete (nothing failed that
    /// may pass), or with `Kafka.Strict` why the chain must not start.
    pub(crate) async fn run(
        &self,
        clients: &Arc<Clients>,
        absolute_max_bytes: u64,
    ) -> Result<bool, CheckError> {
        let config = &clients.options.config;
        let req = Requirements {
            replication_factor: config.topic.replication_factor,
            absolute_max_bytes,
        };
        let outcome = gather::gather(clients, Some(&self.channel))
            .await
            .map(|facts| check(&facts, &req));
        if let Ok(findings) = &outcome {
            crate::metrics::channel_rule_violations(&self.channel, findings);
        }
        let verdict = judge(&outcome, config.strict);
        self.warnings
            .set(&format!("channel {}", self.channel), verdict.warnings);
        match verdict.refusal {
            Some(refusal) => Err(refusal),
            None => Ok(complete(&outcome)),
        }
    }

    /// Without `Kafka.Strict`: checks beside the chain's start, never delaying it,
    /// until the check is complete (every ShortInterval while something that may
    /// pass failed).
    pub(crate) async fn run_until_complete(
        self: Arc<Self>,
        clients: Arc<Clients>,
        absolute_max_bytes: u64,
    ) {
        let interval = clients.options.retry_schedule().short_interval;
        // Never refused: only strict mode refuses.
        while !matches!(self.run(&clients, absolute_max_bytes).await, Ok(true)) {
            tokio::time::sleep(interval).await;
        }
    }
}

/// Nothing failed that another attempt may change.
fn complete(outcome: &Result<Findings, GatherError>) -> bool {
    outcome
        .as_ref()
        .is_ok_and(|f| !f.unchecked.iter().any(|u| u.transient))
}

/// A task aborted when dropped (the chain's background check ends with the chain's
/// start sequence, whichever way that ends).
#[derive(Debug)]
pub(crate) struct AbortOnDrop(pub(crate) JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The node's check, in the background from the consenter's creation on.
#[derive(Debug)]
pub(crate) struct NodeCheck {
    warnings: Arc<Warnings>,
    _task: AbortOnDrop,
}

/// The scope of the node's check in logs and on `/healthz`.
pub(crate) const NODE_SCOPE: &str = "Kafka cluster";

impl NodeCheck {
    /// Starts the check. Must run inside a Tokio runtime.
    pub(crate) fn spawn(clients: Arc<Clients>) -> Self {
        let warnings = Arc::new(Warnings::default());
        let task = tokio::spawn(node_check(clients, Arc::clone(&warnings)));
        NodeCheck {
            warnings,
            _task: AbortOnDrop(task),
        }
    }

    pub(crate) fn warnings(&self) -> Vec<String> {
        self.warnings.get()
    }
}

/// Until the brokers answer (and whatever failed may pass), every ShortInterval.
/// Only ever warns: channels refuse for themselves.
async fn node_check(clients: Arc<Clients>, warnings: Arc<Warnings>) {
    let o = &clients.options;
    let req = Requirements {
        replication_factor: o.config.topic.replication_factor,
        absolute_max_bytes: o.absolute_max_bytes,
    };
    let interval = o.retry_schedule().short_interval;
    loop {
        let outcome = gather::gather(&clients, None)
            .await
            .map(|facts| check(&facts, &req));
        if let Ok(findings) = &outcome {
            crate::metrics::cluster_rule_violations(findings);
        }
        warnings.set(NODE_SCOPE, judge(&outcome, false).warnings);
        if complete(&outcome) {
            return;
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(rule: Rule) -> Violation {
        Violation {
            rule,
            resource: Resource::Broker(1),
            setting: "s".into(),
            value: "v".into(),
            expected: "e".into(),
        }
    }

    fn unchecked(transient: bool) -> Unchecked {
        Unchecked {
            resource: Resource::Broker(2),
            what: if transient {
                "timed out"
            } else {
                "not allowed"
            }
            .into(),
            transient,
        }
    }

    /// (violations, unchecked, strict) -> (warnings, refused, unverified)
    #[test]
    fn verdicts() {
        let v = || vec![violation(Rule::UncleanLeaderElection)];
        let cases = [
            (vec![], vec![], false, 0, false, false),
            (vec![], vec![], true, 0, false, false),
            (v(), vec![], false, 1, false, false),
            (v(), vec![], true, 0, true, false),
            (v(), vec![unchecked(false)], true, 1, true, false),
            // Refused for good (ACLs): a warning, never a refusal.
            (vec![], vec![unchecked(false)], true, 1, false, false),
            (vec![], vec![unchecked(false)], false, 1, false, false),
            // May pass: a strict chain waits for a complete check.
            (vec![], vec![unchecked(true)], true, 1, false, true),
            (vec![], vec![unchecked(true)], false, 1, false, false),
        ];
        for (violations, unchecked, strict, warnings, refused, unverified) in cases {
            let findings = Findings {
                violations,
                unchecked,
            };
            let verdict = judge(&Ok(findings.clone()), strict);
            assert_eq!(verdict.warnings.len(), warnings, "{findings:?} {strict}");
            assert_eq!(
                matches!(verdict.refusal, Some(CheckError::Refused(_))),
                refused,
                "{findings:?} {strict}"
            );
            assert_eq!(
                matches!(verdict.refusal, Some(CheckError::Unverified(_))),
                unverified,
                "{findings:?} {strict}"
            );
        }
    }

    #[test]
    fn a_refusal_names_each_violation() {
        let verdict = judge(
            &Ok(Findings {
                violations: vec![
                    violation(Rule::UncleanLeaderElection),
                    violation(Rule::MinInsyncReplicas),
                ],
                unchecked: vec![],
            }),
            true,
        );
        let text = verdict.refusal.map(|r| r.to_string()).unwrap_or_default();
        assert!(text.starts_with("Kafka.Strict is true"), "{text}");
        assert!(text.contains("rule unclean_leader_election"), "{text}");
        assert!(
            text.contains("; broker 1: s = v breaks the Kafka cluster rule min_insync_replicas"),
            "{text}"
        );
    }

    #[test]
    fn no_facts_is_a_warning_and_in_strict_mode_unverified() {
        let e = || Err(GatherError::TopicMissing("c".into()));
        let lenient = judge(&e(), false);
        assert_eq!(
            lenient.warnings,
            [
                "the Kafka cluster's settings could not be checked: topic c (partition 0) is not in the cluster metadata"
            ]
        );
        assert_eq!(lenient.refusal, None);
        assert!(matches!(
            judge(&e(), true).refusal,
            Some(CheckError::Unverified(_))
        ));
    }
}

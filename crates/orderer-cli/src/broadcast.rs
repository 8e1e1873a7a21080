//! Broadcasting envelopes and counting the answers.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use orderer_api::proto::common::{Envelope, Status};
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use crate::client::describe_status;
use crate::proto_client::atomic_broadcast_client::AtomicBroadcastClient;

/// How many example rejection reasons a report keeps.
const KEEP_REASONS: usize = 5;

/// What the orderer answered.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BroadcastReport {
    pub sent: u64,
    /// Responses per status name (`SUCCESS`, `BAD_REQUEST`, ...).
    pub statuses: BTreeMap<String, u64>,
    /// The first few non-SUCCESS responses: status and info.
    pub rejections: Vec<String>,
    /// Why the stream ended before every envelope was answered, if it did.
    pub stream_error: Option<String>,
}

impl BroadcastReport {
    pub fn answered(&self) -> u64 {
        self.statuses.values().sum()
    }

    pub fn acked(&self) -> u64 {
        self.statuses.get("SUCCESS").copied().unwrap_or(0)
    }

    pub fn all_succeeded(&self) -> bool {
        self.stream_error.is_none() && self.acked() == self.sent
    }

    /// One line per fact, for people.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "acked {} of {} envelopes ({})",
            self.acked(),
            self.sent,
            self.statuses
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        )];
        for r in &self.rejections {
            out.push(format!("rejected: {r}"));
        }
        if let Some(e) = &self.stream_error {
            out.push(format!("stream ended early: {e}"));
        }
        out
    }
}

/// Sends `count` envelopes made by `make(i)` on one stream, keeping at most `window`
/// unanswered, and collects every response.
pub async fn broadcast(
    client: &mut AtomicBroadcastClient<Channel>,
    count: u64,
    window: usize,
    make: impl Fn(u64) -> anyhow::Result<Envelope> + Send + 'static,
) -> anyhow::Result<BroadcastReport> {
    let window = window.max(1);
    let (tx, rx) = mpsc::channel(window);
    let credits = Arc::new(Semaphore::new(window));
    let producer_credits = Arc::clone(&credits);
    let producer = tokio::spawn(async move {
        for i in 0..count {
            let Ok(permit) = producer_credits.acquire().await else {
                return Ok(());
            };
            permit.forget();
            // A failure here ends the request stream; the orderer then ends its side.
            let env = make(i).with_context(|| format!("building envelope {i}"))?;
            if tx.send(env).await.is_err() {
                return Ok(());
            }
        }
        anyhow::Ok(())
    });
    let mut report = BroadcastReport {
        sent: count,
        ..Default::default()
    };
    let mut responses = client
        .broadcast(ReceiverStream::new(rx))
        .await
        .map_err(|s| anyhow::anyhow!("Broadcast refused: {}", describe_status(&s)))?
        .into_inner();
    while report.answered() < count {
        match responses.message().await {
            Ok(Some(r)) => {
                credits.add_permits(1);
                let status = Status::try_from(r.status)
                    .map(|s| s.as_str_name().to_owned())
                    .unwrap_or_else(|_| r.status.to_string());
                if status != "SUCCESS" && report.rejections.len() < KEEP_REASONS {
                    report.rejections.push(format!("{status}: {}", r.info));
                }
                *report.statuses.entry(status).or_default() += 1;
            }
            Ok(None) => {
                report.stream_error = Some(format!(
                    "the orderer closed the stream after {} responses",
                    report.answered()
                ));
                break;
            }
            Err(s) => {
                report.stream_error = Some(describe_status(&s));
                break;
            }
        }
    }
    credits.close();
    if report.stream_error.is_some() {
        if let Ok(Ok(Err(e))) =
            tokio::time::timeout(std::time::Duration::from_secs(1), producer).await
        {
            report.stream_error = Some(format!("{e:#}"));
        }
    } else {
        // Every envelope is answered: end the stream as gRPC means it to end. The
        // producer's end half-closes our side; then the orderer ends its side. Exiting
        // before that would cut the connection under a stream the orderer still holds
        // (it would count the stream as cancelled, not completed).
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            let _ = producer.await;
            while let Ok(Some(_)) = responses.message().await {}
        })
        .await;
    }
    Ok(report)
}

/// Sends one envelope and returns the orderer's status and info.
pub async fn broadcast_one(
    client: &mut AtomicBroadcastClient<Channel>,
    env: Envelope,
) -> anyhow::Result<(Status, String)> {
    let mut responses = client
        .broadcast(tokio_stream::iter(vec![env]))
        .await
        .map_err(|s| anyhow::anyhow!("Broadcast refused: {}", describe_status(&s)))?
        .into_inner();
    let r = responses
        .message()
        .await
        .map_err(|s| anyhow::anyhow!(describe_status(&s)))?
        .context("the orderer closed the stream without answering")?;
    let status = Status::try_from(r.status).unwrap_or(Status::Unknown);
    Ok((status, r.info))
}

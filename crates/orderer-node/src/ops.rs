//! The operations server: a separate HTTP listener for operators.
//!
//! * `GET /metrics`: Prometheus text format (when `Metrics.Provider` is prometheus).
//! * `GET /healthz`: `200 {"status":"OK","time":...}` or `503` with `failed_checks`,
//!   one per channel whose chain is not ready (not started, errored, halted) or
//!   whose ledger failed, with the reason. Either answer lists `warnings` when there
//!   are any: conditions that do not fail the check but that an operator should fix
//!   (a Kafka cluster that breaks the cluster rules, without `Kafka.Strict`).
//! * `GET /logspec` → `{"spec": ...}`; `PUT /logspec {"spec": "debug"}` changes the
//!   log filter at once (204); a bad spec gets 400 and the reason.
//! * `GET /version` → `{"CommitSHA": ..., "Version": ...}`.
//!
//! Paths and response shapes are Fabric's operations service's. With
//! `Operations.TLS.ClientAuthRequired`, as in Fabric, `/metrics` and `/logspec` need a
//! client certificate from `Operations.TLS.ClientRootCAs` (401 without one), while
//! `/healthz` and `/version` stay open to load balancers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use metrics_exporter_prometheus::PrometheusHandle;
use orderer_api::ChainState;
use serde_json::json;
use tracing::info;

use crate::registry::Registry;
use crate::shutdown::Shutdown;
use crate::telemetry::LogFilter;

/// The largest request body accepted (a log spec).
const MAX_BODY: usize = 64 * 1024;

/// What the operations endpoints report on.
#[derive(Debug, Clone)]
pub struct OpsState {
    pub registry: Arc<Registry>,
    pub metrics: Option<PrometheusHandle>,
    pub log_filter: Option<LogFilter>,
    /// TLS of the listener, if enabled.
    pub tls: Option<crate::tls::Material>,
}

/// Binds `addr` and serves the operations endpoints until `shutdown`.
pub async fn serve(addr: &str, state: OpsState, shutdown: Shutdown) -> anyhow::Result<SocketAddr> {
    let tls = state.tls.clone();
    let state = Arc::new(state);
    let what = crate::http::Listener {
        key: "Operations.ListenAddress",
        name: "operations",
    };
    crate::http::serve(
        what,
        addr,
        tls.as_ref(),
        shutdown,
        move |req, authenticated| {
            let state = Arc::clone(&state);
            async move { handle(&state, req, authenticated).await }
        },
    )
    .await
}

type Reply = Response<Full<Bytes>>;

async fn handle(state: &OpsState, req: Request<Incoming>, authenticated: bool) -> Reply {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    if !authenticated && matches!(path.as_str(), "/metrics" | "/logspec") {
        return error_reply(
            StatusCode::UNAUTHORIZED,
            "client certificate required: Operations.TLS.ClientAuthRequired is true".into(),
        );
    }
    match (path.as_str(), &method) {
        ("/metrics", &Method::GET) => metrics(state),
        ("/healthz", &Method::GET) => healthz(state),
        ("/logspec", &Method::GET) => match &state.log_filter {
            Some(f) => json_reply(StatusCode::OK, json!({ "spec": f.spec() })),
            None => not_managed(),
        },
        ("/logspec", &Method::PUT) => put_logspec(state, req).await,
        ("/version", &Method::GET) => json_reply(
            StatusCode::OK,
            json!({ "CommitSHA": env!("BUILD_COMMIT_ID"), "Version": env!("CARGO_PKG_VERSION") }),
        ),
        ("/metrics" | "/healthz" | "/logspec" | "/version", m) => error_reply(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("invalid request method: {m}"),
        ),
        (p, _) => error_reply(
            StatusCode::NOT_FOUND,
            format!("no operations endpoint at {p}"),
        ),
    }
}

fn metrics(state: &OpsState) -> Reply {
    let Some(handle) = &state.metrics else {
        return error_reply(
            StatusCode::NOT_FOUND,
            "metrics are disabled: Metrics.Provider is not prometheus".into(),
        );
    };
    crate::metrics::update_process_metrics();
    let mut reply = Response::new(Full::new(Bytes::from(handle.render())));
    reply.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    reply
}

/// One entry per channel that cannot serve, with why.
pub fn failed_checks(registry: &Registry) -> Vec<(String, String)> {
    let mut failed = Vec::new();
    for channel in registry.channels() {
        let component = format!("channel {}", channel.id);
        if let Some(reason) = channel.ledger().failure() {
            failed.push((component.clone(), format!("ledger failed: {reason}")));
        }
        let state = channel.chain.state().borrow().clone();
        let reason = match state {
            ChainState::Ready => continue,
            ChainState::Starting { reason } => format!("chain not started: {reason}"),
            ChainState::Errored { reason } => format!("chain errored: {reason}"),
            ChainState::Halted { reason } => format!("chain halted: {reason}"),
        };
        failed.push((component, reason));
    }
    failed
}

/// One entry per warning of a consenter (`kafka consenter`) or a channel's chain:
/// reported on `/healthz` without failing it.
pub fn warnings(registry: &Registry) -> Vec<(String, String)> {
    let mut warnings: Vec<(String, String)> = registry
        .consenter_warnings()
        .into_iter()
        .map(|(kind, w)| (format!("{kind} consenter"), w))
        .collect();
    for channel in registry.channels() {
        let component = format!("channel {}", channel.id);
        warnings.extend(
            channel
                .chain
                .warnings()
                .into_iter()
                .map(|w| (component.clone(), w)),
        );
    }
    warnings
}

fn healthz(state: &OpsState) -> Reply {
    let (status, body) = health_body(
        failed_checks(&state.registry),
        warnings(&state.registry),
        rfc3339_now(),
    );
    json_reply(status, body)
}

/// Fabric's answer, plus `warnings` when there are any (absent otherwise, so that
/// the answer stays byte for byte Fabric's).
fn health_body(
    failed: Vec<(String, String)>,
    warnings: Vec<(String, String)>,
    time: String,
) -> (StatusCode, serde_json::Value) {
    let entries = |list: Vec<(String, String)>| -> Vec<serde_json::Value> {
        list.into_iter()
            .map(|(component, reason)| json!({ "component": component, "reason": reason }))
            .collect()
    };
    let (status, mut body) = if failed.is_empty() {
        (StatusCode::OK, json!({ "status": "OK", "time": time }))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "Service Unavailable", "time": time, "failed_checks": entries(failed) }),
        )
    };
    if !warnings.is_empty() {
        body["warnings"] = serde_json::Value::Array(entries(warnings));
    }
    (status, body)
}

async fn put_logspec(state: &OpsState, req: Request<Incoming>) -> Reply {
    let Some(filter) = &state.log_filter else {
        return not_managed();
    };
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return error_reply(StatusCode::BAD_REQUEST, format!("reading the body: {e}")),
    };
    #[derive(serde::Deserialize)]
    struct Spec {
        spec: String,
    }
    let spec: Spec = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return error_reply(
                StatusCode::BAD_REQUEST,
                format!("expected a JSON body like {{\"spec\": \"info\"}}: {e}"),
            );
        }
    };
    match filter.set(&spec.spec) {
        Ok(()) => {
            info!(spec = %spec.spec, "log spec changed");
            Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(Full::new(Bytes::new()))
                .unwrap_or_default()
        }
        Err(e) => error_reply(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

fn not_managed() -> Reply {
    error_reply(
        StatusCode::SERVICE_UNAVAILABLE,
        "this process does not manage its log filter".into(),
    )
}

fn error_reply(status: StatusCode, message: String) -> Reply {
    json_reply(status, json!({ "error": message }))
}

fn json_reply(status: StatusCode, body: serde_json::Value) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body.to_string())));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    reply
}

/// The current UTC time as `2026-11-22T05:49:53Z`.
fn rfc3339_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_lists_warnings_without_failing() {
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        let (status, body) = health_body(vec![], vec![], "t".into());
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({ "status": "OK", "time": "t" }));

        let warning = || {
            vec![pair(
                "kafka consenter",
                "broker 1: min.insync.replicas = 1 ...",
            )]
        };
        let (status, body) = health_body(vec![], warning(), "t".into());
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({ "status": "OK", "time": "t", "warnings": [
                { "component": "kafka consenter", "reason": "broker 1: min.insync.replicas = 1 ..." }
            ] })
        );

        let (status, body) = health_body(
            vec![pair("channel c", "chain not started: x")],
            warning(),
            "t".into(),
        );
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["failed_checks"][0]["component"], "channel c");
        assert_eq!(body["warnings"][0]["component"], "kafka consenter");
    }

    #[test]
    fn dates_convert() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_779), (2026, 11, 22));
    }
}

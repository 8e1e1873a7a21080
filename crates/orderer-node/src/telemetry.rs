//! Logs and traces.
//!
//! * Logs: `tracing` to stderr, filtered by `General.LogLevel`, changeable at run time
//!   through [`LogFilter`] (the `/logspec` endpoint).
//! * Traces: when `Tracing.Endpoint` (or `OTEL_EXPORTER_OTLP_ENDPOINT`) is set, the
//!   orderer's spans go to an OTLP/gRPC collector. The per-envelope and per-block
//!   spans are at TRACE level, so without export (and with the usual log levels) their
//!   callsites are disabled once and for all and cost nothing on the hot path.
//! * Propagation: a Broadcast's W3C `traceparent` rides with its envelope through the
//!   consenter (a Kafka record header), and the block that holds it links back to it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use opentelemetry::KeyValue;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{ParseError, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::{SubscriberInitExt, TryInitError};
use tracing_subscriber::{EnvFilter, Layer, reload};

use crate::config::Tracing;

type Reload = Arc<dyn Fn(EnvFilter) -> Result<(), reload::Error> + Send + Sync>;

/// Why logging or trace export could not be set up, or the log filter not changed.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `General.LogLevel` is not a valid filter ([`init`]).
    #[error("General.LogLevel {spec:?}: {source}")]
    LogLevel {
        spec: String,
        #[source]
        source: ParseError,
    },
    /// A spec given at run time is not a valid filter ([`LogFilter::set`]).
    #[error("invalid log spec {spec:?}: {source}")]
    InvalidSpec {
        spec: String,
        #[source]
        source: ParseError,
    },
    /// The subscriber holding the filter is gone.
    #[error(transparent)]
    Reload(#[from] reload::Error),
    /// The OTLP exporter for `Tracing.Endpoint` could not be built.
    #[error("Tracing.Endpoint {endpoint}: {source}")]
    Exporter {
        endpoint: String,
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// A global subscriber was installed already.
    #[error(transparent)]
    Install(#[from] TryInitError),
}

/// Changes the log filter of a running node.
#[derive(Clone)]
pub struct LogFilter {
    reload: Reload,
    spec: Arc<Mutex<String>>,
}

impl std::fmt::Debug for LogFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogFilter")
            .field("spec", &self.spec())
            .finish()
    }
}

impl LogFilter {
    /// The filter in force.
    pub fn spec(&self) -> String {
        self.spec.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Replaces the filter; an invalid spec is refused with the reason.
    pub fn set(&self, spec: &str) -> Result<(), TelemetryError> {
        let filter =
            EnvFilter::builder()
                .parse(spec)
                .map_err(|source| TelemetryError::InvalidSpec {
                    spec: spec.to_owned(),
                    source,
                })?;
        (self.reload)(filter)?;
        if let Ok(mut s) = self.spec.lock() {
            *s = spec.to_owned();
        }
        Ok(())
    }
}

/// What `init` set up; `shutdown` flushes the spans not yet exported.
#[derive(Debug)]
pub struct Telemetry {
    pub log_filter: LogFilter,
    tracer: Option<SdkTracerProvider>,
}

impl Telemetry {
    pub fn shutdown(&self) {
        if let Some(p) = &self.tracer {
            if let Err(e) = p.shutdown() {
                eprintln!("orderer: flushing traces failed: {e}");
            }
        }
    }
}

static EXPORTING: AtomicBool = AtomicBool::new(false);
static LOG_FILTER: OnceLock<LogFilter> = OnceLock::new();

/// The process's log filter, if [`init`] installed one.
pub fn log_filter() -> Option<LogFilter> {
    LOG_FILTER.get().cloned()
}

/// Whether spans are exported (and so worth propagating).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// The OTLP endpoint to export to: the configuration, else the standard variable.
fn endpoint(tracing: &Tracing) -> Option<String> {
    if !tracing.endpoint.is_empty() {
        return Some(tracing.endpoint.clone());
    }
    std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty())
}

/// Installs logging and, if configured, trace export. Call inside the Tokio runtime
/// (the OTLP exporter runs on it). `instance` names this node in the exported
/// resource (`service.instance.id`).
pub fn init(spec: &str, tracing: &Tracing, instance: &str) -> Result<Telemetry, TelemetryError> {
    let filter = EnvFilter::builder()
        .parse(spec)
        .map_err(|source| TelemetryError::LogLevel {
            spec: spec.to_owned(),
            source,
        })?;
    let (filter, handle) = reload::Layer::new(filter);
    let reload: Reload = Arc::new(move |f| handle.reload(f));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(filter);

    let (otel, tracer) = match endpoint(tracing) {
        None => (None, None),
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(&endpoint)
                .build()
                .map_err(|source| TelemetryError::Exporter {
                    endpoint: endpoint.clone(),
                    source,
                })?;
            let provider = SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                    tracing.sample_ratio,
                ))))
                .with_resource(
                    Resource::builder()
                        .with_service_name(tracing.service_name.clone())
                        .with_attribute(KeyValue::new("service.instance.id", instance.to_owned()))
                        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
                        .build(),
                )
                .build();
            let tracer = provider.tracer("orderer");
            // Only this orderer's spans: its logs stay logs.
            let layer = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(filter_fn(|m| {
                    m.is_span() && m.target().starts_with("orderer")
                }));
            EXPORTING.store(true, Ordering::Relaxed);
            (Some(layer), Some(provider))
        }
    };
    tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init()?;
    let log_filter = LogFilter {
        reload,
        spec: Arc::new(Mutex::new(spec.to_owned())),
    };
    let _ = LOG_FILTER.set(log_filter.clone());
    Ok(Telemetry { log_filter, tracer })
}

/// The W3C `traceparent` of `span`, when spans are exported and it is sampled.
pub fn traceparent(span: &tracing::Span) -> Option<Bytes> {
    if !exporting() {
        return None;
    }
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    if !sc.is_valid() {
        return None;
    }
    Some(Bytes::from(format!(
        "00-{}-{}-{:02x}",
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags().to_u8()
    )))
}

/// Parses a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`).
pub fn parse_traceparent(tp: &[u8]) -> Option<SpanContext> {
    let s = std::str::from_utf8(tp).ok()?;
    let mut parts = s.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version.len() != 2 || trace.len() != 32 || span.len() != 16 || flags.len() != 2 {
        return None;
    }
    let sc = SpanContext::new(
        TraceId::from_hex(trace).ok()?,
        SpanId::from_hex(span).ok()?,
        TraceFlags::new(u8::from_str_radix(flags, 16).ok()?),
        true,
        TraceState::default(),
    );
    sc.is_valid().then_some(sc)
}

/// Links `span` to the broadcasts whose trace contexts are given (at most
/// `MAX_LINKS`, OpenTelemetry's default limit per span).
pub fn link_to(span: &tracing::Span, traceparents: &[Bytes]) {
    const MAX_LINKS: usize = 128;
    for tp in traceparents.iter().take(MAX_LINKS) {
        if let Some(sc) = parse_traceparent(tp) {
            span.add_link(sc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_parse() {
        let sc =
            parse_traceparent(b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
        assert_eq!(
            sc.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(sc.span_id().to_string(), "b7ad6b7169203331");
        assert!(sc.is_sampled());
        assert!(parse_traceparent(b"garbage").is_none());
        assert!(
            parse_traceparent(b"00-00000000000000000000000000000000-b7ad6b7169203331-01").is_none()
        );
    }
}

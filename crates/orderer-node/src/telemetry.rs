//! Logging: `tracing` to stderr, filtered by `General.LogLevel`, changeable at run time.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

/// Changes the log filter of a running node.
#[derive(Debug, Clone)]
pub struct LogFilter {
    handle: reload::Handle<EnvFilter, Registry>,
    spec: std::sync::Arc<std::sync::Mutex<String>>,
}

impl LogFilter {
    /// The filter in force.
    pub fn spec(&self) -> String {
        self.spec.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Replaces the filter; an invalid spec is refused with the reason.
    pub fn set(&self, spec: &str) -> Result<(), String> {
        let filter = EnvFilter::builder()
            .parse(spec)
            .map_err(|e| format!("invalid log spec {spec:?}: {e}"))?;
        self.handle.reload(filter).map_err(|e| e.to_string())?;
        if let Ok(mut s) = self.spec.lock() {
            *s = spec.to_owned();
        }
        Ok(())
    }
}

/// Installs the global subscriber. `spec` was validated with the configuration.
pub fn init(spec: &str) -> Result<LogFilter, String> {
    let filter = EnvFilter::builder()
        .parse(spec)
        .map_err(|e| format!("General.LogLevel {spec:?}: {e}"))?;
    let (filter, handle) = reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .try_init()
        .map_err(|e| e.to_string())?;
    Ok(LogFilter {
        handle,
        spec: std::sync::Arc::new(std::sync::Mutex::new(spec.to_owned())),
    })
}

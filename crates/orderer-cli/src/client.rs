//! Connecting to an orderer.

use std::time::Duration;

use anyhow::Context;
use tonic::transport::{Channel, Endpoint};

use crate::proto_client::atomic_broadcast_client::AtomicBroadcastClient;

/// Largest message accepted from the orderer (blocks can be large).
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// Connects to `server` (`host:port`, or a full `http://` URL).
pub async fn connect(server: &str) -> anyhow::Result<AtomicBroadcastClient<Channel>> {
    let url = if server.contains("://") {
        server.to_owned()
    } else {
        format!("http://{server}")
    };
    let endpoint = Endpoint::from_shared(url.clone())
        .with_context(|| format!("--server {server:?} is not a valid address"))?
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true);
    let channel = endpoint.connect().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot connect to the orderer at {server}: {}",
            error_chain(&e)
        )
    })?;
    Ok(AtomicBroadcastClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE))
}

/// An error and its causes on one line ("transport error: Connection refused").
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}

/// A gRPC status as a sentence.
pub fn describe_status(s: &tonic::Status) -> String {
    let mut out = format!("{:?}", s.code());
    if !s.message().is_empty() {
        out.push_str(": ");
        out.push_str(s.message());
    }
    if let Some(src) = std::error::Error::source(s) {
        out.push_str(" (");
        out.push_str(&error_chain(src));
        out.push(')');
    }
    out
}

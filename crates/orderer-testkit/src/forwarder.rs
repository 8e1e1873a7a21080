//! The TCP forwarder in front of a broker's listener: a stable address across broker
//! restarts, and network partitions of single Kafka clients or whole brokers.
//!
//! The broker advertises the forwarder's address, so every connection of every
//! client (bootstrap and the reconnections to the advertised address) passes through
//! it. A connection has names: the `client_id` of its first request (Kafka's request
//! header: int32 size, int16 api_key, int16 api_version, int32 correlation_id,
//! int16-length client_id; not read on a TLS listener, whose first bytes are a
//! handshake), and the name the forwarder's `source` function gives the connecting
//! process (the test kit names its broker processes, so that a broker's own outgoing
//! connections can be cut too). Cutting a name, or the whole forwarder, holds the
//! matching connections, existing and new, in both directions without closing them,
//! as a partition does: bytes already read wait, the kernel buffers fill, TCP pushes
//! back. Healing lets the held bytes through.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// The fixed part of a request header up to the client id's length.
const HEADER_PREFIX: usize = 4 + 2 + 2 + 4 + 2;
/// How long a new connection may take to send its first request header.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct State {
    backend: Option<u16>,
    stopped: bool,
    /// Both ends of every forwarded connection, to cut them when the broker dies.
    open: Vec<TcpStream>,
    /// Names (client ids, sources) whose connections are held.
    cut: HashSet<String>,
    /// Every connection is held (the broker behind is cut off).
    cut_all: bool,
}

/// Names the process that opened a connection, from the connection's peer address.
pub(crate) type SourceNamer = Arc<dyn Fn(SocketAddr) -> Option<String> + Send + Sync>;

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled on every change of `cut`, `backend` or `stopped`.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks while the forwarder or any of `names` is cut; false once it stops.
    fn pass(&self, names: &[String]) -> bool {
        let mut st = self.lock();
        while (st.cut_all || names.iter().any(|n| st.cut.contains(n))) && !st.stopped {
            st = self
                .changed
                .wait_timeout(st, Duration::from_millis(200))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        !st.stopped
    }
}

/// Accepts on a fixed loopback port and pipes each connection to the current backend.
#[derive(Debug)]
pub(crate) struct Forwarder {
    pub(crate) port: u16,
    shared: Arc<Shared>,
}

impl Forwarder {
    /// A forwarder for a plaintext Kafka listener, naming connections by client id.
    #[cfg(test)]
    pub(crate) fn start() -> Forwarder {
        Forwarder::start_with(true, None)
    }

    /// With `kafka_header` false the first bytes are not read (a TLS listener); with
    /// `source`, connections also carry the name of the process that opened them.
    pub(crate) fn start_with(kafka_header: bool, source: Option<SourceNamer>) -> Forwarder {
        let listener =
            TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("forwarder: {e}"));
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("forwarder: {e}"));
        let shared = Arc::new(Shared::default());
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if accepting.lock().stopped {
                    return;
                }
                let shared = Arc::clone(&accepting);
                let source = source.clone();
                // The header is read on the connection's own thread: a slow client
                // must not stall the accept loop.
                std::thread::spawn(move || connect(client, &shared, kafka_header, source));
            }
        });
        Forwarder { port, shared }
    }

    pub(crate) fn set_backend(&self, backend: Option<u16>) {
        let mut st = self.shared.lock();
        st.backend = backend;
        if backend.is_none() {
            for s in st.open.drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        self.shared.changed.notify_all();
    }

    /// Holds every connection named `name` (a client id or a source), open and
    /// future, until [`Forwarder::heal`].
    pub(crate) fn cut(&self, name: &str) {
        self.shared.lock().cut.insert(name.to_owned());
        self.shared.changed.notify_all();
    }

    /// Lets `name`'s connections through again, held bytes first.
    pub(crate) fn heal(&self, name: &str) {
        self.shared.lock().cut.remove(name);
        self.shared.changed.notify_all();
    }

    /// Holds (true) or releases (false) every connection through this forwarder.
    pub(crate) fn cut_all(&self, cut: bool) {
        self.shared.lock().cut_all = cut;
        self.shared.changed.notify_all();
    }

    pub(crate) fn stop(&self) {
        {
            let mut st = self.shared.lock();
            st.stopped = true;
            st.backend = None;
            for s in st.open.drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        self.shared.changed.notify_all();
        // Wake the accept loop so it sees `stopped`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Names the connection (reading its first request header if `kafka_header`), then
/// pipes it to the backend.
fn connect(
    mut client: TcpStream,
    shared: &Arc<Shared>,
    kafka_header: bool,
    source: Option<SourceNamer>,
) {
    let mut names = Vec::new();
    if let Some(name) = source.and_then(|f| client.peer_addr().ok().and_then(|a| f(a))) {
        names.push(name);
    }
    let header = if kafka_header {
        let Some((header, client_id)) = read_header(&mut client) else {
            return;
        };
        names.push(client_id);
        header
    } else {
        Vec::new()
    };
    if !shared.pass(&names) {
        return;
    }
    let backend = shared.lock().backend;
    // No broker: the connection closes at once, like a refusal.
    let Some(backend) = backend else { return };
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", backend)) else {
        return;
    };
    let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
        client.try_clone(),
        server.try_clone(),
        client.try_clone(),
        server.try_clone(),
    ) else {
        return;
    };
    {
        let mut st = shared.lock();
        // The broker may have died meanwhile: its connections were cut then.
        if st.backend != Some(backend) || st.stopped {
            return;
        }
        st.open.push(c3);
        st.open.push(s3);
    }
    if server.write_all(&header).is_err() {
        return;
    }
    let names = Arc::new(names);
    pipe(client, server, Arc::clone(shared), Arc::clone(&names));
    pipe(s2, c2, Arc::clone(shared), names);
}

/// The bytes of the first request header up to the client id's end, and the id
/// (empty when null). `None` when the client closes or sends something else.
fn read_header(client: &mut TcpStream) -> Option<(Vec<u8>, String)> {
    client.set_read_timeout(Some(HEADER_TIMEOUT)).ok()?;
    let mut header = vec![0u8; HEADER_PREFIX];
    client.read_exact(&mut header).ok()?;
    let len = i16::from_be_bytes([header[12], header[13]]);
    let id = if len > 0 {
        let mut id = vec![0u8; usize::try_from(len).ok()?];
        client.read_exact(&mut id).ok()?;
        header.extend_from_slice(&id);
        String::from_utf8_lossy(&id).into_owned()
    } else {
        String::new()
    };
    client.set_read_timeout(None).ok()?;
    Some((header, id))
}

/// Copies `from` to `to` on a thread until either side closes, holding while the
/// connection is cut.
fn pipe(mut from: TcpStream, mut to: TcpStream, shared: Arc<Shared>, names: Arc<Vec<String>>) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if !shared.pass(&names) || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Kafka request header of `client_id` (ApiVersions v0), framed.
    fn request(client_id: &str, body: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&18i16.to_be_bytes());
        r.extend_from_slice(&0i16.to_be_bytes());
        r.extend_from_slice(&7i32.to_be_bytes());
        r.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
        r.extend_from_slice(client_id.as_bytes());
        r.extend_from_slice(body);
        let mut framed = (r.len() as i32).to_be_bytes().to_vec();
        framed.extend(r);
        framed
    }

    /// An echo server as the backend.
    fn echo() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(mut c) = c else { continue };
                std::thread::spawn(move || {
                    let mut w = c.try_clone().unwrap();
                    let _ = std::io::copy(&mut c, &mut w);
                });
            }
        });
        port
    }

    fn echoed(s: &mut TcpStream, n: usize, timeout: Duration) -> Option<Vec<u8>> {
        s.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = vec![0u8; n];
        s.read_exact(&mut buf).ok().map(|_| buf)
    }

    #[test]
    fn a_cut_client_id_is_held_both_ways_and_healing_delivers_what_was_held() {
        let f = Forwarder::start();
        f.set_backend(Some(echo()));
        let addr = ("127.0.0.1", f.port);
        let mut a = TcpStream::connect(addr).unwrap();
        let mut b = TcpStream::connect(addr).unwrap();
        let ra = request("osn-a", b"first");
        let rb = request("osn-b", b"first");
        a.write_all(&ra).unwrap();
        b.write_all(&rb).unwrap();
        assert_eq!(echoed(&mut a, ra.len(), Duration::from_secs(5)), Some(ra));
        assert_eq!(echoed(&mut b, rb.len(), Duration::from_secs(5)), Some(rb));

        f.cut("osn-a");
        a.write_all(b"held").unwrap();
        b.write_all(b"free").unwrap();
        assert_eq!(
            echoed(&mut b, 4, Duration::from_secs(5)).as_deref(),
            Some(&b"free"[..])
        );
        assert_eq!(echoed(&mut a, 4, Duration::from_millis(500)), None);
        // A new connection of the cut client is held from its first request on.
        let mut a2 = TcpStream::connect(addr).unwrap();
        let ra2 = request("osn-a", b"new");
        a2.write_all(&ra2).unwrap();
        assert_eq!(echoed(&mut a2, ra2.len(), Duration::from_millis(500)), None);

        f.heal("osn-a");
        assert_eq!(
            echoed(&mut a, 4, Duration::from_secs(5)).as_deref(),
            Some(&b"held"[..])
        );
        assert_eq!(
            echoed(&mut a2, ra2.len(), Duration::from_secs(5)),
            Some(ra2)
        );
        f.stop();
    }

    #[test]
    fn without_a_backend_connections_close() {
        let f = Forwarder::start();
        let mut a = TcpStream::connect(("127.0.0.1", f.port)).unwrap();
        a.write_all(&request("osn-a", b"x")).unwrap();
        a.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 1];
        assert!(matches!(a.read(&mut buf), Ok(0) | Err(_)));
        f.stop();
    }
}

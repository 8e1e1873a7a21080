//! The TCP forwarder in front of a broker: a stable address across broker restarts,
//! and network partitions of single Kafka clients.
//!
//! The broker advertises the forwarder's address, so every connection of every
//! client (bootstrap and the reconnections to the advertised address) passes through
//! it. A client is recognised by the `client_id` of the first request on each
//! connection (Kafka's request header: int32 size, int16 api_key, int16 api_version,
//! int32 correlation_id, int16-length client_id). Cutting a client id holds its
//! connections, existing and new, in both directions without closing them, as a
//! partition does: bytes already read wait, the kernel buffers fill, TCP pushes back.
//! Healing lets the held bytes through.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
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
    /// Client ids whose connections are held.
    cut: HashSet<String>,
}

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

    /// Blocks while `client_id` is cut; false once the forwarder stops.
    fn pass(&self, client_id: &str) -> bool {
        let mut st = self.lock();
        while st.cut.contains(client_id) && !st.stopped {
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
    pub(crate) fn start() -> Forwarder {
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
                // The header is read on the connection's own thread: a slow client
                // must not stall the accept loop.
                std::thread::spawn(move || connect(client, &shared));
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

    /// Holds every connection of `client_id`, open and future, until [`Forwarder::heal`].
    pub(crate) fn cut(&self, client_id: &str) {
        self.shared.lock().cut.insert(client_id.to_owned());
        self.shared.changed.notify_all();
    }

    /// Lets `client_id`'s connections through again, held bytes first.
    pub(crate) fn heal(&self, client_id: &str) {
        self.shared.lock().cut.remove(client_id);
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

/// Reads the first request header of `client`, then pipes it to the backend.
fn connect(mut client: TcpStream, shared: &Arc<Shared>) {
    let Some((header, client_id)) = read_header(&mut client) else {
        return;
    };
    if !shared.pass(&client_id) {
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
    pipe(client, server, Arc::clone(shared), client_id.clone());
    pipe(s2, c2, Arc::clone(shared), client_id);
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

/// Copies `from` to `to` on a thread until either side closes, holding while
/// `client_id` is cut.
fn pipe(mut from: TcpStream, mut to: TcpStream, shared: Arc<Shared>, client_id: String) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if !shared.pass(&client_id) || to.write_all(&buf[..n]).is_err() {
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

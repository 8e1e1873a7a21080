//! Another process's TCP sockets, found through `/proc` and inspected through a
//! duplicate of its file descriptor (`pidfd_getfd`): which process owns a
//! connection, and the options a server set on the sockets it accepted.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{OwnedFd, RawFd};

use rustix::process::{Pid, PidfdFlags, PidfdGetfdFlags, pidfd_getfd, pidfd_open};

/// An address as `/proc/net/tcp` writes it: the IPv4 address as a native-endian
/// (on x86, reversed) hex word, then the port, e.g. `0100007F:1F90`. IPv6 is not
/// needed by the tests (they connect over 127.0.0.1).
fn proc_addr(addr: SocketAddr) -> Option<String> {
    match addr.ip() {
        IpAddr::V4(ip) => Some(format!(
            "{:08X}:{:04X}",
            u32::from_ne_bytes(ip.octets()),
            addr.port()
        )),
        IpAddr::V6(_) => None,
    }
}

/// The inodes of the sockets whose `column` (1: local address, 2: remote address)
/// matches `want` in this network namespace's TCP tables. A closed connection
/// lingering in TIME_WAIT may match too; it has no inode (0) and is left out.
fn socket_inodes(column: usize, want: impl Fn(&str) -> bool) -> Vec<String> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // The inode is column 9.
            if cols.len() > 9 && cols[9] != "0" && want(cols[column]) {
                inodes.push(cols[9].to_owned());
            }
        }
    }
    inodes
}

/// The file descriptor of process `pid` that is socket `inode`.
fn fd_of(pid: u32, inode: &str) -> Option<RawFd> {
    let target = format!("socket:[{inode}]");
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    fds.flatten().find_map(|fd| {
        let link = std::fs::read_link(fd.path()).ok()?;
        if link.to_string_lossy() == target {
            fd.file_name().to_str()?.parse().ok()
        } else {
            None
        }
    })
}

/// Which of `running` (`(name, pid)`) owns the socket whose local address has
/// `peer`'s port: the other end of a connection accepted from `peer`.
pub(crate) fn socket_owner(peer: SocketAddr, running: &[(u32, u32)]) -> Option<u32> {
    let port = format!(":{:04X}", peer.port());
    let inodes = socket_inodes(1, |local| local.ends_with(&port));
    inodes.iter().find_map(|inode| {
        running
            .iter()
            .find_map(|(id, pid)| fd_of(*pid, inode).map(|_| *id))
    })
}

/// A duplicate of the socket process `pid` holds for its end of the connection from
/// `peer` (the client's local address): `None` while it has not accepted it.
fn accepted_socket(pid: u32, peer: SocketAddr) -> std::io::Result<Option<OwnedFd>> {
    let Some(want) = proc_addr(peer) else {
        return Err(std::io::Error::other(format!(
            "{peer}: not an IPv4 address"
        )));
    };
    let inodes = socket_inodes(2, |remote| remote == want);
    let Some(fd) = inodes.iter().find_map(|inode| fd_of(pid, inode)) else {
        return Ok(None);
    };
    let pid = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| std::io::Error::other(format!("{pid}: not a process id")))?;
    let pidfd = pidfd_open(pid, PidfdFlags::empty())?;
    Ok(Some(pidfd_getfd(&pidfd, fd, PidfdGetfdFlags::empty())?))
}

/// Whether the socket process `pid` accepted from `peer` has TCP_NODELAY set;
/// `None` while it has not accepted the connection.
pub fn accepted_nodelay(pid: u32, peer: SocketAddr) -> std::io::Result<Option<bool>> {
    match accepted_socket(pid, peer)? {
        Some(fd) => Ok(Some(rustix::net::sockopt::tcp_nodelay(&fd)?)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_of_a_socket_is_found_through_proc() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let me = std::process::id();
        assert_eq!(socket_owner(peer, &[(7, me)]), Some(7));
        assert_eq!(socket_owner(peer, &[(7, u32::MAX)]), None);
    }

    #[test]
    fn the_nodelay_option_of_an_accepted_socket_is_read_as_set() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let me = std::process::id();
        for nodelay in [false, true] {
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let peer = client.local_addr().unwrap();
            let (server, _) = listener.accept().unwrap();
            server.set_nodelay(nodelay).unwrap();
            assert_eq!(accepted_nodelay(me, peer).unwrap(), Some(nodelay));
        }
        let never = SocketAddr::from(([127, 0, 0, 1], 1));
        assert_eq!(accepted_nodelay(me, never).unwrap(), None);
    }
}

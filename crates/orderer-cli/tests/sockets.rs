//! Socket options the orderer sets on what it accepts, read from the real process:
//! each listener's accepted sockets (gRPC, operations, admin) have TCP_NODELAY, so
//! that small frames and responses leave at once instead of waiting for the peer's
//! delayed ACK.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpStream;

use common::{Orderer, free_port, wait_for};
use orderer_testkit::accepted_nodelay;

#[test]
fn every_listener_sets_tcp_nodelay_on_the_connections_it_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let admin = format!("127.0.0.1:{}", free_port());
    let o = Orderer::start(
        dir.path(),
        &[
            ("ORDERER_ADMIN_LISTENADDRESS", &admin),
            ("ORDERER_CHANNELPARTICIPATION_ENABLED", "true"),
        ],
    );
    for (listener, addr) in [
        ("gRPC", o.addr()),
        ("operations", o.ops()),
        ("admin", admin),
    ] {
        // A bare TCP connection: the server accepts it before any protocol speaks.
        let client = TcpStream::connect(&addr).unwrap();
        let peer = client.local_addr().unwrap();
        let nodelay =
            wait_for(
                &format!("the {listener} listener to accept"),
                || match accepted_nodelay(o.pid(), peer) {
                    Ok(Some(on)) => Ok(on),
                    Ok(None) => Err(format!("no socket from {peer} in the orderer yet")),
                    Err(e) => panic!("reading the orderer's socket from {peer}: {e}"),
                },
            );
        assert!(
            nodelay,
            "the {listener} listener ({addr}) accepted {peer} without TCP_NODELAY"
        );
        drop(client);
    }
}

//! Tasks with owners: a member stopped with SIGTERM while clients hold connections and
//! streams open ends every task (connections finish and close, streams end, loops stop)
//! well within its drain bound, and says so.

use std::time::{Duration, Instant};

use corral_shared::client::Client;
use corral_shared::tls::ServerTrust;
use corral_tests::{Member, Watch, wait_until};

#[test]
fn sigterm_with_open_connections_and_streams_drains_every_task_within_the_bound() {
    let mut node1 = Member::start("node1");
    node1.bootstrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");

    // Held open while the member stops: a Watch stream, and idle kept-alive connections on
    // the unix socket and the TLS port.
    let mut watch = Watch::unix(&node1.socket());
    assert!(watch.next(Duration::from_secs(10)).is_some(), "a snapshot");
    let mut unix = rt.block_on(node1.client().keep_alive()).expect("unix");
    let https = Client::https(&node1.address, &ServerTrust::Any, None).expect("TLS setup");
    let mut tls = rt.block_on(https.keep_alive()).expect("https");
    for kept in [&mut unix, &mut tls] {
        let (status, _) = rt.block_on(kept.raw("GET", "/1.0", None)).expect("served");
        assert_eq!(status, 200);
    }

    let pid = node1.pid().expect("running");
    let started = Instant::now();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGTERM) }, 0);
    wait_until("corrald to exit", Duration::from_secs(30), || {
        (!node1.is_running()).then_some(())
    });
    let took = started.elapsed();

    let log = node1.log();
    assert!(log.contains("every task of this member ended"), "{log}");
    assert!(!log.contains("had to be stopped"), "{log}");
    // Nothing waited for the drain bound (5 s): every task ended when told to.
    assert!(
        took < Duration::from_secs(5),
        "stopping took {took:?}: {log}"
    );
}

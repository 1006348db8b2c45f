//! The read-index line: a member that is not the leader asks the leader for its read index on
//! a TLS connection of its own, told apart on the shared port by ALPN. Only members (the
//! cluster certificate) may ask; the leader's answer follows every acknowledged write, and a
//! member that does not lead says so instead of answering. A member whose port offers no
//! lines (an older version) is asked, and sent Raft's messages, over gRPC.

use std::sync::Arc;
use std::time::Duration;

use corral_daemon::peers::read_index::{ALPN, ALPN_NAMED, Ask, Reply};
use corral_shared::tls::{ClientIdentity, ServerTrust, client_config};
use corral_tests::{Cluster, HttpsClient, Member, leader_name};
use tokio::io::AsyncWriteExt;

/// Opens the line to `address` presenting `identity`, asks `asks` times and returns the
/// replies, each within 10 s.
fn ask(address: &str, identity: &ClientIdentity, asks: usize) -> Vec<Reply> {
    ask_as(address, identity, asks, None)
}

/// As [`ask`]; with `from`, offering the line of named asks too (as members do), which
/// must be the one agreed, and naming member `from` in each ask.
fn ask_as(address: &str, identity: &ClientIdentity, asks: usize, from: Option<u64>) -> Vec<Reply> {
    let (offered, agreed): (&[&[u8]], &[u8]) = match from {
        Some(_) => (&[ALPN_NAMED, ALPN], ALPN_NAMED),
        None => (&[ALPN], ALPN),
    };
    let tls = client_config(&ServerTrust::Any, Some(identity), offered).expect("TLS setup");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(address)
            .await
            .expect("connects");
        let config: Arc<rustls::ClientConfig> = tls.config.clone();
        let mut line = tokio_rustls::TlsConnector::from(config)
            .connect(tls.server_name.clone(), tcp)
            .await
            .expect("TLS handshake");
        assert_eq!(
            line.get_ref().1.alpn_protocol(),
            Some(agreed),
            "the line is offered"
        );
        let mut replies = Vec::new();
        for _ in 0..asks {
            line.write_all(&Ask { from }.encode()).await.expect("asks");
            let reply = tokio::time::timeout(Duration::from_secs(10), Reply::read(&mut line))
                .await
                .expect("a reply within 10 s")
                .expect("a well-formed reply");
            replies.push(reply);
        }
        replies
    })
}

/// The identity a member calls the others with: the cluster certificate in its directory.
fn member_identity(member: &Member) -> ClientIdentity {
    let read = |file: &str| std::fs::read_to_string(member.dir().join(file)).expect(file);
    ClientIdentity::from_pem(&read("cluster.crt"), &read("cluster.key"), "cluster.crt")
        .expect("the cluster certificate")
}

fn index_of(reply: &Reply) -> u64 {
    match reply {
        Reply::Index(index) => *index,
        Reply::Refused(why) => panic!("the leader refused: {why}"),
    }
}

#[test]
fn the_leader_answers_members_with_an_index_that_follows_every_write_and_refuses_strangers() {
    let cluster = Cluster::form(3);
    let leader = leader_name(&cluster[0].members()).expect("a leader");
    let leader = cluster.position(&leader).expect("ours");
    let other = (leader + 1) % 3;
    let member = member_identity(&cluster[0]);

    // A member asks the leader twice on one line; a write acknowledged in between moves the
    // index past where it was.
    let before = ask(&cluster[leader].address, &member, 2);
    assert_eq!(
        index_of(&before[0]),
        index_of(&before[1]),
        "no write in between"
    );
    cluster[other]
        .corral(&["cluster", "set", &cluster[other].name, "user.line", "1"])
        .ok();
    let after = ask(&cluster[leader].address, &member, 1);
    assert!(
        index_of(&after[0]) > index_of(&before[1]),
        "the write is not covered: {before:?} then {after:?}"
    );

    // A member that names itself (as members now do) is answered alike: the index covers
    // the write too.
    let named = ask_as(&cluster[leader].address, &member, 1, Some(2));
    assert!(
        index_of(&named[0]) >= index_of(&after[0]),
        "named ask: {named:?} after {after:?}"
    );

    // A member that does not lead says why it cannot answer, on the same protocol.
    match &ask(&cluster[other].address, &member, 1)[0] {
        Reply::Refused(why) => assert!(why.contains("current read"), "{why}"),
        Reply::Index(i) => panic!("a follower gave read index {i}"),
    }

    // A stranger's certificate is refused before any ask is served, with the rule named.
    let stranger = HttpsClient::new();
    match &ask(&cluster[leader].address, stranger.identity(), 1)[0] {
        Reply::Refused(why) => assert!(why.contains("only cluster members"), "{why}"),
        Reply::Index(i) => panic!("a stranger got read index {i}"),
    }
}

#[test]
fn a_member_that_offers_no_lines_is_sent_raft_and_asked_for_reads_over_grpc() {
    // node1, the first leader, is as a member of an older version: its port offers no line.
    let mut cluster = Cluster::form_prepared(3, None, |m| {
        if m.name == "node1" {
            m.set_env("CORRAL_OFFER_LINES", "0");
        }
    });
    // Whoever leads, every write is read back at once on every member: Raft reaches every
    // member, and the read index comes from the leader, with or without its line.
    let check = |cluster: &Cluster, round: usize| {
        for (i, writer) in cluster.members().iter().enumerate() {
            let value = format!("r{round}w{i}");
            writer.corral(&["config", "set", "user.line", &value]).ok();
            for reader in cluster.members() {
                assert_eq!(
                    reader.config_value("user.line"),
                    value,
                    "read on {}",
                    reader.name
                );
            }
        }
    };
    check(&cluster, 0);
    // node1 led at first (it bootstrapped): killed and back, it follows a leader that
    // speaks the lines while it still does not offer them.
    let leader = leader_name(&cluster[1].members()).expect("a leader");
    assert_eq!(
        leader, "node1",
        "the member without lines led the first round"
    );
    let first = cluster.position(&leader).expect("ours");
    cluster.members_mut()[first].kill();
    cluster.members_mut()[first].restart();
    check(&cluster, 1);
}

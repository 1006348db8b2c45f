//! Who asked for what a lifecycle event reports, as LXD's events say it (`requestor`:
//! `root` over the unix socket, a certificate's fingerprint over HTTPS). It is known where
//! the request arrives and follows the work: through the request's task, the operations it
//! starts, the writes it proposes (a batch carries it through Raft to every member), and the
//! calls it makes to other members (a header only members are believed on).

use std::future::Future;

use corral_shared::api::Requestor;

use crate::api::Peer;

/// The header a member's call to another member carries the original requestor in.
pub const HEADER: &str = "x-corral-requestor";

tokio::task_local! {
    static CURRENT: Option<Requestor>;
}

/// The requestor of the work running now, if it came from a request.
pub fn current() -> Option<Requestor> {
    CURRENT.try_with(Clone::clone).ok().flatten()
}

/// Runs `work` on behalf of `requestor`.
pub async fn scope<F: Future>(requestor: Option<Requestor>, work: F) -> F::Output {
    CURRENT.scope(requestor, work).await
}

/// Spawns `work` on behalf of the requestor of the work running now.
pub fn spawn<F>(work: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(scope(current(), work))
}

/// The requestor a request from `peer` has (pure): `relayed` is the header's value, which
/// counts only when `peer` is another member relaying a request it received.
pub fn of_request(peer: &Peer, member: bool, relayed: Option<&str>) -> Option<Requestor> {
    if member && let Some(text) = relayed {
        return serde_json::from_str(text).ok();
    }
    if peer.local {
        // The socket is root's alone.
        return Some(Requestor {
            username: "root".into(),
            protocol: "unix".into(),
            address: "@".into(),
        });
    }
    let fingerprint = peer.fingerprint.clone()?;
    Some(Requestor {
        username: fingerprint,
        protocol: "tls".into(),
        address: peer.address.clone().unwrap_or_default(),
    })
}

/// The header value carrying `requestor` to another member.
pub fn header_value(requestor: &Requestor) -> Option<String> {
    serde_json::to_string(requestor).ok()
}

/// The header value carrying the requestor of the work running now (empty without one).
pub fn header_now() -> String {
    current()
        .as_ref()
        .and_then(header_value)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(local: bool, fingerprint: Option<&str>) -> Peer {
        Peer {
            fingerprint: fingerprint.map(Into::into),
            certificate: None,
            local,
            address: Some("127.0.0.9:50000".into()),
        }
    }

    #[test]
    fn the_requestor_is_the_socket_user_the_certificate_or_what_a_member_relays() {
        let admin = Requestor {
            username: "abc123".into(),
            protocol: "tls".into(),
            address: "127.0.0.9:50000".into(),
        };
        let relayed = header_value(&admin).unwrap();
        let root = Requestor {
            username: "root".into(),
            protocol: "unix".into(),
            address: "@".into(),
        };
        let cases = [
            ("the unix socket", peer(true, None), false, None, Some(root)),
            (
                "a client certificate",
                peer(false, Some("abc123")),
                false,
                None,
                Some(admin.clone()),
            ),
            (
                "a member relaying",
                peer(false, Some("cluster")),
                true,
                Some(relayed.as_str()),
                Some(admin.clone()),
            ),
            (
                "a client claiming to relay is itself",
                peer(false, Some("other")),
                false,
                Some(r#"{"username":"root","protocol":"unix","address":"@"}"#),
                Some(Requestor {
                    username: "other".into(),
                    ..admin.clone()
                }),
            ),
            ("no certificate", peer(false, None), false, None, None),
        ];
        for (what, peer, member, header, want) in cases {
            assert_eq!(of_request(&peer, member, header), want, "{what}");
        }
    }

    #[tokio::test]
    async fn work_knows_its_requestor_only_inside_its_scope() {
        let root = of_request(&peer(true, None), false, None);
        assert_eq!(current(), None);
        let seen = scope(root.clone(), async { current() }).await;
        assert_eq!(seen, root);
        assert_eq!(current(), None);
    }
}

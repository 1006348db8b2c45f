//! Every call this member makes to other members, REST and gRPC, in one place: typed calls
//! (`leader().rebalance()`, `member(address).ready()`) instead of paths at call sites, made
//! with the TLS configurations cached once when the member got its cluster certificate;
//! where a request runs when only the leader or one member may serve it ([`route`]); and
//! calling every member at once with a bounded wait ([`Peers::fan_out`]).
//!
//! A new resource's member calls (instances, storage) go in [`calls`] as typed methods of
//! [`Member`]; its handlers route with [`route::on_owner`] and gather with
//! [`Peers::fan_out`].

pub mod calls;
pub mod dial;
mod error;
pub mod fanout;
pub mod read_index;
mod rest;
pub mod route;
mod stream;
pub mod tls;

use std::time::Duration;

pub use calls::Member;
pub use dial::Dialer;
pub use error::PeerError;
pub use rest::RawAnswer;
pub use route::{Owner, Route};

use crate::error::{Error, Result};
use crate::node::Node;
use crate::tls::Identity;

/// Whether a caller presenting the certificate with `fingerprint` is a member: it presents
/// the cluster certificate, or, while that is being replaced, the other one of the pair.
pub fn is_member_certificate(node: &Node, fingerprint: &str) -> bool {
    let eq = |a: &str| {
        corral_shared::fingerprint::constant_time_eq(a.as_bytes(), fingerprint.as_bytes())
    };
    node.cluster_fingerprint().is_some_and(|c| eq(&c))
        || node.network.dialer().also_trusted().iter().any(|f| eq(f))
}

/// The way to call other members: a cache of TLS configurations and channels, and the
/// leader's address as this member knew it when the handle was made.
#[derive(Clone)]
pub struct Peers {
    dialer: Dialer,
    leader: Option<String>,
}

impl Peers {
    /// This member's way to call the others, with its cached cluster certificate.
    pub fn of(node: &Node) -> Result<Self> {
        let dialer = node.network.dialer().clone();
        if !node.is_clustered() || dialer.tls().is_none() {
            return Err(Error::BadRequest("This server is not clustered".into()));
        }
        Ok(Self {
            dialer,
            leader: node.leader_address(),
        })
    }

    /// Calls made with `identity`, trusting only a server presenting the same certificate
    /// (a stopped member's files, or a cluster certificate not adopted yet).
    pub fn with_identity(identity: &Identity) -> Result<Self> {
        Self::pinned(identity, identity.fingerprint())
    }

    /// Calls made with `identity`, trusting only a server whose certificate has
    /// `fingerprint` (a joiner presenting its own certificate to the cluster's).
    pub fn pinned(identity: &Identity, fingerprint: &str) -> Result<Self> {
        let tls = tls::client_configs(identity, fingerprint)
            .map_err(|e| Error::Internal(format!("cluster TLS client: {e}")))?;
        Ok(Self {
            dialer: Dialer::with_tls(tls),
            leader: None,
        })
    }

    /// The leader, when one is known.
    pub fn leader(&self) -> Option<Member> {
        self.leader.as_deref().map(|a| self.member(a))
    }

    /// The member at `address` (`host:port`).
    pub fn member(&self, address: &str) -> Member {
        Member::new(address, self.dialer.clone())
    }

    /// Calls every target at once, each for at most `wait`, and returns one answer per
    /// target, in the order given (see [`fanout`]).
    pub async fn fan_out<K, T, F, Fut>(
        &self,
        targets: Vec<(K, String)>,
        wait: Duration,
        call: F,
    ) -> Vec<(K, std::result::Result<T, PeerError>)>
    where
        T: Send + 'static,
        F: Fn(Member) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, PeerError>> + Send + 'static,
    {
        let targets = targets
            .into_iter()
            .map(|(k, a)| (k, self.member(&a).within(wait)))
            .collect();
        fanout::fan_out(targets, wait, call).await
    }
}

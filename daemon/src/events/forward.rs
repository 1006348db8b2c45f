//! Member-local events (operations, log records, lifecycle events of actions carried out
//! on one member such as an instance started) of other members, brought to this one's
//! listeners as LXD does: over `/1.0/events` between members. Lifecycle events of
//! replicated changes need none of this, since every member derives them from the log.
//!
//! Only while a listener here wants events (or a member relays through this one) does this
//! member follow others, so an unwatched cluster holds no connections:
//! - with no `event-hub` member (full mesh), it follows every other member's own events;
//! - a hub follows every other member's own events, and relays them;
//! - any other member follows one hub, which relays everyone's events.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use corral_shared::api::{ClusterMember, Event, Role};
use rustls::pki_types::ServerName;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use super::bus::{self, Happened};
use crate::node::Node;

/// How often the members to follow are looked at again (roles and members change).
const REPLAN: Duration = Duration::from_secs(2);
/// How long to wait before following a member again after its stream broke.
const RETRY: Duration = Duration::from_secs(1);
/// How long connecting to a member may take.
const CONNECT: Duration = Duration::from_secs(3);

/// What a member's `/1.0/events` sends another member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only its own events.
    Local,
    /// Its own and those it follows, except those of the asking member (a hub's service).
    Relay,
}

impl Scope {
    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Relay => "relay",
        }
    }
}

/// One member to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follow {
    /// Its name.
    pub name: String,
    /// Its address, `host:port`.
    pub address: String,
    /// What to ask it for.
    pub scope: Scope,
}

/// Whom member `me` follows among `members`, by the event-hub rule in this module's doc.
pub fn plan(members: &[ClusterMember], me: &str) -> Vec<Follow> {
    let hub = |m: &ClusterMember| m.roles.contains(&Role::EventHub);
    let address = |m: &ClusterMember| m.url.trim_start_matches("https://").to_owned();
    let others = members.iter().filter(|m| m.server_name != me);
    let i_am_hub = members.iter().any(|m| m.server_name == me && hub(m));
    let hubs: Vec<&ClusterMember> = others.clone().filter(|m| hub(m)).collect();
    if i_am_hub || hubs.is_empty() {
        others
            .map(|m| Follow {
                name: m.server_name.clone(),
                address: address(m),
                scope: Scope::Local,
            })
            .collect()
    } else {
        // Every hub has everyone's events: one is enough.
        hubs.iter()
            .take(1)
            .map(|m| Follow {
                name: m.server_name.clone(),
                address: address(m),
                scope: Scope::Relay,
            })
            .collect()
    }
}

/// Listeners here that need other members' own events.
fn demand() -> &'static watch::Sender<usize> {
    static DEMAND: OnceLock<watch::Sender<usize>> = OnceLock::new();
    DEMAND.get_or_init(|| watch::channel(0).0)
}

static RUNNING: AtomicBool = AtomicBool::new(false);

/// Held while a listener needs other members' own events.
pub struct Demand(());

impl Demand {
    /// Counts one more such listener, and starts following other members if needed.
    pub fn start(node: &Arc<Node>) -> Self {
        demand().send_modify(|n| *n += 1);
        if !RUNNING.swap(true, Ordering::SeqCst)
            && !node
                .tasks
                .spawn("following other members' events", run(node.clone()))
        {
            // The member is stopping.
            RUNNING.store(false, Ordering::SeqCst);
        }
        Self(())
    }
}

impl Drop for Demand {
    fn drop(&mut self) {
        demand().send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Follows the planned members while there is demand.
async fn run(node: Arc<Node>) {
    let mut wanted = demand().subscribe();
    let mut following: BTreeMap<String, (Follow, Aborting)> = BTreeMap::new();
    let shutdown = node.shutdown_requested();
    tokio::pin!(shutdown);
    loop {
        if *wanted.borrow_and_update() == 0 {
            RUNNING.store(false, Ordering::SeqCst);
            // A listener that came while stopping found RUNNING set and started nothing.
            if *wanted.borrow() == 0 || RUNNING.swap(true, Ordering::SeqCst) {
                break;
            }
        }
        let planned = match (
            crate::cluster::members::list(&node).await,
            crate::cluster::members::own_name(&node).await,
        ) {
            (Ok(members), Ok(me)) => Some((plan(&members, &me), me)),
            _ => None,
        };
        if let Some((planned, me)) = planned {
            following.retain(|_, (f, task)| planned.contains(f) && !task.0.is_finished());
            for f in planned {
                if !following.contains_key(&f.name) {
                    tracing::debug!(
                        "events: following {} ({}) for its {} events",
                        f.name,
                        f.address,
                        f.scope.as_str()
                    );
                    let task = Aborting(tokio::spawn(follow(node.clone(), f.clone(), me.clone())));
                    following.insert(f.name.clone(), (f, task));
                }
            }
        }
        tokio::select! {
            () = &mut shutdown => break,
            _ = wanted.changed() => {}
            () = tokio::time::sleep(REPLAN) => {}
        }
    }
}

/// A connection task owned by the loop that planned it: it ends when dropped (replanned,
/// or the loop itself ends or is dropped at shutdown).
struct Aborting(JoinHandle<()>);

impl Drop for Aborting {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Follows one member until aborted, reconnecting after a break.
async fn follow(node: Arc<Node>, f: Follow, me: String) {
    loop {
        if let Err(e) = stream(&node, &f, &me).await {
            tracing::debug!("events: following {} ({}): {e}", f.name, f.address);
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Publishes what one member's `/1.0/events` sends, until it ends.
async fn stream(node: &Node, f: &Follow, me: &str) -> Result<(), String> {
    let tls = node
        .network
        .dialer()
        .tls()
        .ok_or("this member has no cluster certificate yet")?;
    let connect = async {
        let tcp = tokio::net::TcpStream::connect(&f.address)
            .await
            .map_err(|e| e.to_string())?;
        let name = ServerName::try_from("corral").map_err(|e| e.to_string())?;
        let tls = tokio_rustls::TlsConnector::from(tls.http1)
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let url = format!(
            "ws://corral/1.0/events?type=lifecycle,operation,logging&all-projects=true&scope={}&from={me}",
            f.scope.as_str()
        );
        tokio_tungstenite::client_async(url, tls)
            .await
            .map_err(|e| e.to_string())
    };
    let (mut ws, _) = tokio::time::timeout(CONNECT, connect)
        .await
        .map_err(|_| format!("no answer within {CONNECT:?}"))??;
    while let Some(frame) = ws.next().await {
        let text = match frame.map_err(|e| e.to_string())? {
            Message::Text(t) => t,
            Message::Close(_) => return Ok(()),
            _ => continue,
        };
        if let Ok(event) = serde_json::from_str::<Event>(&text) {
            bus::bus().publish(Happened::Forwarded(event));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_shared::api::MemberStatus;

    fn member(name: &str, hub: bool) -> ClusterMember {
        ClusterMember {
            roles: if hub { vec![Role::EventHub] } else { vec![] },
            failure_domain: "default".into(),
            description: String::new(),
            config: Default::default(),
            groups: vec!["default".into()],
            server_name: name.into(),
            url: format!("https://{name}:8443"),
            database: false,
            status: MemberStatus::Online,
            message: String::new(),
            architecture: "x86_64".into(),
        }
    }

    #[test]
    fn members_follow_every_other_or_one_hub() {
        use Scope::*;
        type Case = (
            &'static str,
            Vec<ClusterMember>,
            &'static str,
            Vec<(&'static str, Scope)>,
        );
        let cases: [Case; 4] = [
            (
                "no hub: full mesh",
                vec![
                    member("m1", false),
                    member("m2", false),
                    member("m3", false),
                ],
                "m1",
                vec![("m2", Local), ("m3", Local)],
            ),
            (
                "a member follows one hub, which relays",
                vec![member("m1", false), member("m2", true), member("m3", true)],
                "m1",
                vec![("m2", Relay)],
            ),
            (
                "a hub follows everyone's own events",
                vec![member("m1", false), member("m2", true), member("m3", false)],
                "m2",
                vec![("m1", Local), ("m3", Local)],
            ),
            (
                "alone: nobody to follow",
                vec![member("m1", true)],
                "m1",
                vec![],
            ),
        ];
        for (what, members, me, want) in cases {
            let got: Vec<(String, Scope)> = plan(&members, me)
                .into_iter()
                .map(|f| {
                    assert_eq!(f.address, format!("{}:8443", f.name), "{what}");
                    (f.name, f.scope)
                })
                .collect();
            let want: Vec<(String, Scope)> =
                want.into_iter().map(|(n, s)| (n.to_owned(), s)).collect();
            assert_eq!(got, want, "{what}");
        }
    }
}

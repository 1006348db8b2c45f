//! Several members formed into one cluster, so tests read like an operator's session:
//! `Cluster::form(3)`, `cluster.add("node4")`, `cluster[0].kill()`. Formed with
//! [`Cluster::form_in_namespaces`], each member lives in a network namespace of its own and
//! the cluster can be partitioned: `isolate(i)`, `split(&[0], &[1, 2])`, `bridge(i)`.

use std::ops::{Index, IndexMut};

use crate::member::Member;
use crate::net::Net;

/// Members of one cluster; dropping it kills them all (then removes their namespaces).
pub struct Cluster {
    // Declared first, dropped first: the members die before their namespaces go.
    members: Vec<Member>,
    /// For each member, the index of its namespace in `net`.
    slots: Vec<Option<usize>>,
    net: Option<Net>,
}

impl Cluster {
    /// Bootstraps `node1` and joins `node2`..`nodeN` to it by token, on loopback.
    pub fn form(n: usize) -> Self {
        Self::form_prepared(n, None, |_| {})
    }

    /// As [`Cluster::form`], each member in a network namespace of its own wired to one
    /// bridge (needs root: check [`Net::available`] first).
    pub fn form_in_namespaces(n: usize) -> Self {
        Self::form_prepared(n, Some(Net::new(0)), |_| {})
    }

    /// Forms `n` members (in `net`'s namespaces when given), calling `prepare` on each
    /// member before it first starts (to mount a filesystem in its directory, say).
    pub fn form_prepared(n: usize, net: Option<Net>, mut prepare: impl FnMut(&mut Member)) -> Self {
        let mut cluster = Self {
            members: Vec::new(),
            slots: Vec::new(),
            net,
        };
        for i in 1..=n {
            let mut member = cluster.new_member(&format!("node{i}"));
            prepare(&mut member);
            member.launch();
            match cluster.members.first() {
                None => member.bootstrap(),
                Some(first) => {
                    if let Err(e) = join_retrying(&member, first) {
                        panic!("{e}");
                    }
                }
            }
            cluster.members.push(member);
        }
        cluster
    }

    /// A member not yet started, in a new namespace if this cluster has them; its slot is
    /// pushed with it by the caller.
    fn new_member(&mut self, name: &str) -> Member {
        match &mut self.net {
            Some(net) => {
                let slot = net.plug();
                self.slots.push(Some(slot));
                Member::in_namespace(name, net.namespace(slot), net.address(slot))
            }
            None => {
                self.slots.push(None);
                Member::new(name)
            }
        }
    }

    /// Starts a new member and joins it by a token from the first member.
    pub fn add(&mut self, name: &str) -> &mut Member {
        let mut member = self.new_member(name);
        member.launch();
        member.join_by_token(&self.members[0]);
        self.members.push(member);
        self.members.last_mut().expect("just pushed")
    }

    /// Starts a new member (after `prepare`) and joins it by a token from member `via`;
    /// on failure the member is stopped and left out, and the error says what went wrong.
    pub fn try_add(
        &mut self,
        name: &str,
        via: usize,
        prepare: impl FnOnce(&Member),
    ) -> Result<&mut Member, String> {
        let mut member = self.new_member(name);
        let joined = (|| {
            prepare(&mut member);
            member.try_launch()?;
            join_retrying(&member, &self.members[via])
        })();
        if let Err(e) = joined {
            self.slots.pop();
            return Err(e);
        }
        self.members.push(member);
        Ok(self.members.last_mut().expect("just pushed"))
    }

    /// The members, in the order they joined.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The members, to act on several at once (each from its own thread, say).
    pub fn members_mut(&mut self) -> &mut [Member] {
        &mut self.members
    }

    /// Takes a member out of the harness (it keeps running until dropped).
    pub fn take(&mut self, index: usize) -> Member {
        self.slots.remove(index);
        self.members.remove(index)
    }

    /// The position of the member named `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.members.iter().position(|m| m.name == name)
    }

    /// Creates bridge network `name` as an operator does, through the first member: defined
    /// on every member with `--target`, then created for the cluster with
    /// `ipv4.address=cidr`.
    pub fn create_network(&self, name: &str, cidr: &str) {
        for member in &self.members {
            self.members[0]
                .corral(&["network", "create", name, "--target", &member.name])
                .ok();
        }
        let address = format!("ipv4.address={cidr}");
        self.members[0]
            .corral(&["network", "create", name, &address])
            .ok();
    }

    /// The namespaces, when the cluster was formed in them.
    pub fn net(&self) -> Option<&Net> {
        self.net.as_ref()
    }

    fn slot(&self, i: usize) -> (&Net, usize) {
        let net = self
            .net
            .as_ref()
            .expect("partitions need a cluster formed with Cluster::form_in_namespaces");
        (
            net,
            self.slots[i].expect("members of a namespaced cluster have a slot"),
        )
    }

    /// Cuts member `i` off from every other: its packets go nowhere, its connections hang.
    pub fn isolate(&self, i: usize) {
        let (net, slot) = self.slot(i);
        net.isolate(slot);
    }

    /// Plugs member `i` back in after [`Cluster::isolate`].
    pub fn heal(&self, i: usize) {
        let (net, slot) = self.slot(i);
        net.heal(slot);
    }

    /// Cuts every link between the members of `one` and those of `other` (positions); each
    /// side still reaches itself and any member named in neither.
    pub fn split(&self, one: &[usize], other: &[usize]) {
        let slots = |side: &[usize]| side.iter().map(|&i| self.slot(i).1).collect::<Vec<_>>();
        let (one, other) = (slots(one), slots(other));
        self.slot(0).0.split(&one, &other);
    }

    /// Splits the other members into two halves that cannot reach each other, while member
    /// `i` still reaches both: the bridge. Returns the two halves.
    pub fn bridge(&self, i: usize) -> (Vec<usize>, Vec<usize>) {
        let others: Vec<usize> = (0..self.members.len()).filter(|&j| j != i).collect();
        let (one, other) = others.split_at(others.len() / 2);
        self.split(one, other);
        (one.to_vec(), other.to_vec())
    }

    /// Undoes every isolation and cut.
    pub fn heal_all(&self) {
        if let Some(net) = &self.net {
            net.heal_all();
        }
    }
}

/// Joins `member` through `via`, again (bounded) when the cluster says to retry in a moment:
/// a join that lands on an election (the previous joiner's promotion can cause one on a
/// loaded machine) changes nothing and says so.
fn join_retrying(member: &Member, via: &Member) -> Result<(), String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match member.try_join_by_token(via) {
            Err(e) if e.contains("retry") && std::time::Instant::now() < deadline => {
                std::thread::park_timeout(std::time::Duration::from_millis(500));
            }
            done => return done,
        }
    }
}

impl Index<usize> for Cluster {
    type Output = Member;
    fn index(&self, i: usize) -> &Member {
        &self.members[i]
    }
}

impl IndexMut<usize> for Cluster {
    fn index_mut(&mut self, i: usize) -> &mut Member {
        &mut self.members[i]
    }
}

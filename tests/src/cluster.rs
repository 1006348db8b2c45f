//! Several members formed into one cluster, so tests read like an operator's session:
//! `Cluster::form(3)`, `cluster.add("node4")`, `cluster[0].kill()`.

use std::ops::{Index, IndexMut};

use crate::member::Member;

/// Members of one cluster; dropping it kills them all.
pub struct Cluster {
    members: Vec<Member>,
}

impl Cluster {
    /// Bootstraps `node1` and joins `node2`..`nodeN` to it by token.
    pub fn form(n: usize) -> Self {
        let first = Member::start("node1");
        first.bootstrap();
        let mut cluster = Self {
            members: vec![first],
        };
        for i in 2..=n {
            cluster.add(&format!("node{i}"));
        }
        cluster
    }

    /// Starts a new member and joins it by a token from the first member.
    pub fn add(&mut self, name: &str) -> &mut Member {
        let member = Member::start(name);
        member.join_by_token(&self.members[0]);
        self.members.push(member);
        self.members.last_mut().expect("just pushed")
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
        self.members.remove(index)
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

//! What an operator's `POST /1.0/instances/NAME` asks (`lxc move` and `lxc rename`): a new
//! name, or a move of a stopped instance to the member (or group) `?target=` names, chosen
//! by placement's rule and carried out as evacuation moves instances ([`super::migration`]).

use corral_shared::api::{InstancePost, InstanceStatus};

use super::holder::Holder;
use super::lifecycle;
use super::migration;
use super::placement;
use super::scheduler::{PlacementError, VOLATILE_CLUSTER_GROUP_KEY};
use crate::db::batch::Batch;
use crate::db::global::instances as db;
use crate::db::global::queries;
use crate::error::{Error, Result};
use crate::node::Node;

/// What a `POST /1.0/instances/NAME` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Give the instance another name.
    Rename(String),
    /// Move it to the member or `@group` named, then rename it if a new name is given.
    Move {
        /// `?target=`: a member or `@GROUP`.
        target: String,
        /// The new name, when it changes too.
        rename: Option<String>,
    },
}

impl Request {
    /// The operation's description, as LXD names it.
    pub fn description(&self) -> &'static str {
        match self {
            Request::Rename(_) => "Renaming instance",
            Request::Move { .. } => "Migrating instance",
        }
    }
}

/// Reads the request for instance `current` from its body and `?target=` (pure).
pub fn request(current: &str, post: &InstancePost, target: Option<&str>) -> Result<Request> {
    if post.live {
        return Err(Error::BadRequest(format!(
            "Live migration is not supported: containers run by runc are not checkpointed; \
             stop {current}, move it, then start it"
        )));
    }
    let renamed = (!post.name.is_empty() && post.name != current).then(|| post.name.clone());
    match target.filter(|t| !t.is_empty()) {
        Some(target) => Ok(Request::Move {
            target: target.to_owned(),
            rename: renamed,
        }),
        None if post.migration => Err(Error::BadRequest(format!(
            "A move needs a destination member: give --target MEMBER (or @GROUP), e.g. \
             'corral move {current} --target node2'; moves to another server are not supported"
        ))),
        None => match renamed {
            Some(name) => Ok(Request::Rename(name)),
            None if post.name.is_empty() => Err(Error::BadRequest(format!(
                "No new name given: 'corral rename {current} NEW' renames it"
            ))),
            None => Err(Error::BadRequest(format!(
                "Instance {current:?} already has that name: give a different new name"
            ))),
        },
    }
}

/// Carries out `request` on instance `name`.
pub async fn carry_out(node: &Node, name: &str, request: &Request) -> Result<()> {
    match request {
        Request::Rename(new) => super::rename::rename(node, name, new).await,
        Request::Move { target, rename } => {
            move_to(node, name, target).await?;
            match rename {
                Some(new) => super::rename::rename(node, name, new).await,
                None => Ok(()),
            }
        }
    }
}

/// LXD's refusals of a destination, where they differ from placement's for a new instance.
fn destination_refused(e: PlacementError) -> Error {
    match e {
        PlacementError::MemberEvacuated(member) => Error::Forbidden(format!(
            "The destination cluster member is evacuated: restore {member} first \
             ('corral cluster restore {member}') or choose another member"
        )),
        other => other.into(),
    }
}

/// Moves stopped instance `name` to the member `target` names, or to the member of group
/// `@GROUP` that placement chooses; a no-op when it is there already.
pub async fn move_to(node: &Node, name: &str, target: &str) -> Result<()> {
    let row = lifecycle::row(node, name).await?;
    if lifecycle::state(node, name).await?.status == InstanceStatus::Running {
        return Err(Error::BadRequest(format!(
            "Instance must be stopped to be moved statelessly: stop it ('corral stop {name}'), \
             move it, then start it"
        )));
    }
    let architectures = [row.architecture.clone()];
    let (placement, reservation) = placement::choose_or_refuse(node, Some(target), &architectures)
        .await?
        .map_err(destination_refused)?;
    if placement.member_id != row.node_id {
        let id = placement.member_id;
        let member = node
            .global
            .read(move |c| queries::member_by_id(c, id))
            .await?
            .ok_or_else(|| {
                Error::NotFound(format!("Cluster member {} not found", placement.member))
            })?;
        let destination = Holder::new(&member.name, &member.address);
        migration::move_instance(node, name, id, &destination).await?;
    }
    // Where a group placed it, evacuation keeps it in that group; a member named does not.
    let mut batch = Batch::new();
    match placement.volatile_config() {
        Some((key, value)) => db::set_config(&mut batch, name, key, &value),
        None => db::unset_config(&mut batch, name, VOLATILE_CLUSTER_GROUP_KEY),
    }
    node.propose(batch).await?;
    drop(reservation);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(name: &str, migration: bool, live: bool) -> InstancePost {
        InstancePost {
            name: name.into(),
            migration,
            live,
        }
    }

    #[test]
    fn a_post_asks_for_a_rename_or_a_move() {
        let cases: &[(
            InstancePost,
            Option<&str>,
            std::result::Result<Request, &str>,
        )] = &[
            (
                post("web", false, false),
                None,
                Ok(Request::Rename("web".into())),
            ),
            (
                post("", true, false),
                Some("node2"),
                Ok(Request::Move {
                    target: "node2".into(),
                    rename: None,
                }),
            ),
            (
                post("c1", true, false),
                Some("@gpu"),
                Ok(Request::Move {
                    target: "@gpu".into(),
                    rename: None,
                }),
            ),
            (
                post("web", true, false),
                Some("node2"),
                Ok(Request::Move {
                    target: "node2".into(),
                    rename: Some("web".into()),
                }),
            ),
            (
                post("", true, false),
                None,
                Err("needs a destination member"),
            ),
            (
                post("", true, false),
                Some(""),
                Err("needs a destination member"),
            ),
            (post("", false, false), None, Err("No new name given")),
            (post("c1", false, false), None, Err("already has that name")),
            (
                post("", true, true),
                Some("node2"),
                Err("Live migration is not supported"),
            ),
        ];
        for (body, target, want) in cases {
            let got = request("c1", body, *target);
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(&g, w, "{body:?} {target:?}"),
                (Err(w), Err(g)) => assert!(g.to_string().contains(w), "{g} lacks {w:?}"),
                (w, g) => panic!("{body:?} {target:?}: wanted {w:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn an_evacuated_destination_is_refused_as_lxd_refuses_a_move() {
        let e = destination_refused(PlacementError::MemberEvacuated("node2".into()));
        assert!(matches!(e, Error::Forbidden(_)));
        assert!(
            e.to_string()
                .contains("The destination cluster member is evacuated"),
            "{e}"
        );
        let other = destination_refused(PlacementError::NoSuitableMember);
        assert!(other.to_string().contains("No suitable cluster member"));
    }
}

//! `corral move` and `corral rename`, as lxc has them: `move c1 --target node2` moves a
//! stopped instance to another member, `move c1 web` and `rename c1 web` rename it.

use clap::Args;
use corral_shared::api::InstancePost;
use corral_shared::client::Client;

use super::{escape, finish, instance_path};
use crate::error::CliError;

/// `corral move NAME [NEW_NAME] [--target MEMBER|@GROUP]`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct MoveArgs {
    /// The instance (stopped)
    pub name: String,
    /// Its new name, if it changes
    pub new_name: Option<String>,
    /// The member (`node2`) or cluster group (`@gpu`) to move it to
    #[arg(long, value_name = "MEMBER|@GROUP")]
    pub target: Option<String>,
}

/// The request `args` make: the path (with `?target=`) and the body (pure).
pub fn request(args: &MoveArgs) -> Result<(String, InstancePost), CliError> {
    let target = args.target.as_deref().filter(|t| !t.is_empty());
    if target.is_none() && args.new_name.is_none() {
        return Err(CliError::Usage(format!(
            "Say where or what to: 'corral move {0} --target MEMBER' moves it to another \
             member, 'corral move {0} NEW_NAME' renames it",
            args.name
        )));
    }
    let path = match target {
        Some(t) => format!("{}?target={}", instance_path(&args.name), escape(t)),
        None => instance_path(&args.name),
    };
    let post = InstancePost {
        name: args.new_name.clone().unwrap_or_default(),
        migration: target.is_some(),
        live: false,
    };
    Ok((path, post))
}

/// `corral move`.
pub async fn run(client: &Client, args: &MoveArgs) -> Result<(), CliError> {
    let (path, post) = request(args)?;
    let response = client.post(&path, &post).await?;
    finish(client, response).await
}

/// `corral rename NAME NEW_NAME`.
pub async fn rename(client: &Client, name: &str, new_name: &str) -> Result<(), CliError> {
    let args = MoveArgs {
        name: name.to_owned(),
        new_name: Some(new_name.to_owned()),
        target: None,
    };
    run(client, &args).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(name: &str, new_name: Option<&str>, target: Option<&str>) -> MoveArgs {
        MoveArgs {
            name: name.into(),
            new_name: new_name.map(Into::into),
            target: target.map(Into::into),
        }
    }

    #[test]
    fn a_move_is_a_post_to_the_instance_as_lxc_sends_it() {
        let cases = [
            (
                args("c1", None, Some("node2")),
                "/1.0/instances/c1?target=node2",
                "",
                true,
            ),
            (
                args("c1", None, Some("@gpu")),
                "/1.0/instances/c1?target=%40gpu",
                "",
                true,
            ),
            (
                args("c1", Some("web"), None),
                "/1.0/instances/c1",
                "web",
                false,
            ),
            (
                args("c1", Some("web"), Some("node3")),
                "/1.0/instances/c1?target=node3",
                "web",
                true,
            ),
        ];
        for (a, path, name, migration) in cases {
            let (got_path, post) = request(&a).unwrap();
            assert_eq!(got_path, path, "{a:?}");
            assert_eq!(
                (post.name.as_str(), post.migration),
                (name, migration),
                "{a:?}"
            );
            assert!(!post.live);
        }
        let e = request(&args("c1", None, None)).unwrap_err().to_string();
        assert!(e.contains("corral move c1 --target MEMBER"), "{e}");
    }
}

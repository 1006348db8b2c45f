//! The query every two-phase resource (networks, storage pools and volumes) reads:
//! `?recursion=` and `?target=` (the member a two-phase step or a member key is for).

use serde::Deserialize;

/// `?recursion=` and `?target=`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Params {
    /// LXD's recursion level: 0 lists URLs, more lists the objects.
    #[serde(default)]
    pub(super) recursion: u8,
    /// The member named by `?target=`, empty when not given.
    #[serde(default)]
    target: Option<String>,
}

impl Params {
    /// The member `?target=` names; an empty `?target=` names none.
    pub(super) fn target(&self) -> Option<&str> {
        self.target.as_deref().filter(|t| !t.is_empty())
    }
}

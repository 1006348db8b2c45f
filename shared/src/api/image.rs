//! Images as LXD's API shows them (`/1.0/images`, `/1.0/images/aliases`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An alias as listed on its image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageAlias {
    /// The alias.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// One image (`GET /1.0/images/FINGERPRINT`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Aliases naming it.
    #[serde(default)]
    pub aliases: Vec<ImageAlias>,
    /// Architecture (`x86_64`).
    pub architecture: String,
    /// Whether it refreshes itself from its source (never, for imported images).
    #[serde(default)]
    pub auto_update: bool,
    /// Whether it was fetched as a cache of a remote image (never, for imported images).
    #[serde(default)]
    pub cached: bool,
    /// When it was made (RFC 3339).
    #[serde(default)]
    pub created_at: String,
    /// When it expires (LXD's zero time: never).
    #[serde(default)]
    pub expires_at: String,
    /// The file name it was uploaded as.
    #[serde(default)]
    pub filename: String,
    /// SHA-256 of its file.
    pub fingerprint: String,
    /// When an instance was last made from it.
    #[serde(default)]
    pub last_used_at: String,
    /// Profiles applied to instances made from it.
    #[serde(default)]
    pub profiles: Vec<String>,
    /// Properties from its metadata (`os`, `release`, `description`...).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Whether untrusted clients may see it.
    #[serde(default)]
    pub public: bool,
    /// Size of its file in bytes.
    #[serde(default)]
    pub size: i64,
    /// `container` or `virtual-machine`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// When it was imported (RFC 3339).
    #[serde(default)]
    pub uploaded_at: String,
}

/// One alias (`GET /1.0/images/aliases/NAME`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageAliasesEntry {
    /// The alias.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The fingerprint of the image it names.
    pub target: String,
    /// The image's type.
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// A new alias (`POST /1.0/images/aliases`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageAliasesPost {
    /// The alias.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The fingerprint (or a unique prefix of it) of the image it names.
    pub target: String,
    /// The image's type (ignored: taken from the image).
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
}

/// `PUT /1.0/images/FINGERPRINT`: an image's writable part, as LXD's `ImagePut`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagePut {
    /// Whether it refreshes itself from its source (imported images have none).
    #[serde(default)]
    pub auto_update: bool,
    /// Its properties (`os`, `release`, `description`...).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Whether untrusted clients may see it.
    #[serde(default)]
    pub public: bool,
    /// When it expires (LXD's zero time, or empty: never).
    #[serde(default)]
    pub expires_at: String,
    /// Profiles applied to instances made from it.
    #[serde(default)]
    pub profiles: Vec<String>,
}

impl Image {
    /// Its writable part, as `lxc image edit` shows it.
    pub fn writable(&self) -> ImagePut {
        ImagePut {
            auto_update: self.auto_update,
            properties: self.properties.clone(),
            public: self.public,
            expires_at: self.expires_at.clone(),
            profiles: self.profiles.clone(),
        }
    }
}

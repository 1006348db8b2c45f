//! Changing an image's writable part (`lxc image edit`, `set-property`, `PUT`/`PATCH
//! /1.0/images/FINGERPRINT`): its properties and whether it is public. What an image in
//! Corral cannot have (a source to refresh from, an expiry, profiles besides `default`) is
//! refused by name, with what to write instead.

use std::collections::BTreeMap;

use corral_shared::api::ImagePut;
use serde_json::Value;

use super::ZERO_TIME;
use crate::db::batch::Batch;
use crate::db::global::images as db;
use crate::error::{Error, Result};
use crate::node::Node;

fn invalid(key: &str, value: &str, why: &str) -> Error {
    Error::BadRequest(format!("Invalid value for {key:?}: {value}: {why}"))
}

/// Checks `put` against what Corral's images can be (pure).
pub fn check(put: &ImagePut) -> Result<()> {
    if put.auto_update {
        return Err(invalid(
            "auto_update",
            "true",
            "images imported into Corral have no source to refresh from; leave it false",
        ));
    }
    if !put.expires_at.is_empty() && put.expires_at != ZERO_TIME {
        return Err(invalid(
            "expires_at",
            &put.expires_at,
            &format!("images in Corral do not expire; leave it {ZERO_TIME}"),
        ));
    }
    if !put.profiles.is_empty() && put.profiles != ["default"] {
        return Err(invalid(
            "profiles",
            &format!("{:?}", put.profiles),
            "Corral has the default profile only; leave it [default]",
        ));
    }
    if let Some(key) = put
        .properties
        .keys()
        .find(|k| k.is_empty() || k.chars().any(char::is_whitespace))
    {
        return Err(Error::BadRequest(format!(
            "Invalid property name {key:?}: a property name is not empty and has no spaces"
        )));
    }
    Ok(())
}

/// `current` with a PATCH body applied, as LXD applies one (pure): properties given are
/// added or replaced, the others kept; `public` and `auto_update` replaced when given.
pub fn patched(mut current: ImagePut, patch: &Value) -> Result<ImagePut> {
    let Some(fields) = patch.as_object() else {
        return Err(Error::BadRequest(
            "A PATCH of an image is a JSON object of the fields to change".into(),
        ));
    };
    let flag = |key: &str| match fields.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(invalid(key, &other.to_string(), "it is true or false")),
    };
    if let Some(public) = flag("public")? {
        current.public = public;
    }
    if let Some(auto_update) = flag("auto_update")? {
        current.auto_update = auto_update;
    }
    if let Some(properties) = fields.get("properties") {
        let given: BTreeMap<String, String> = serde_json::from_value(properties.clone())
            .map_err(|e| invalid("properties", &properties.to_string(), &e.to_string()))?;
        current.properties.extend(given);
    }
    Ok(current)
}

/// Replaces the writable part of image `fingerprint` with `put`, once checked.
pub async fn update(node: &Node, fingerprint: &str, put: &ImagePut) -> Result<()> {
    check(put)?;
    let mut batch = Batch::new();
    db::update(&mut batch, fingerprint, put.public, &put.properties);
    let outcome = node.propose(batch).await?;
    if outcome.rows_affected.first() == Some(&0) {
        return Err(Error::NotFound(format!(
            "Image not found: {fingerprint} was deleted meanwhile; 'corral image list' shows the images"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shown() -> ImagePut {
        ImagePut {
            auto_update: false,
            properties: BTreeMap::from([("os".into(), "busybox".into())]),
            public: false,
            expires_at: ZERO_TIME.into(),
            profiles: vec!["default".into()],
        }
    }

    #[test]
    fn what_an_image_shows_can_be_written_back_and_what_it_cannot_have_is_refused() {
        let cases: Vec<(&str, ImagePut, Option<&str>)> = vec![
            ("as shown", shown(), None),
            ("lxc's empty fields", ImagePut::default(), None),
            (
                "public, a new property",
                ImagePut {
                    public: true,
                    properties: BTreeMap::from([("release".into(), "1.36".into())]),
                    ..shown()
                },
                None,
            ),
            (
                "auto_update",
                ImagePut {
                    auto_update: true,
                    ..shown()
                },
                Some("\"auto_update\": true"),
            ),
            (
                "an expiry",
                ImagePut {
                    expires_at: "2030-01-01T00:00:00Z".into(),
                    ..shown()
                },
                Some("\"expires_at\": 2030-01-01T00:00:00Z"),
            ),
            (
                "another profile",
                ImagePut {
                    profiles: vec!["gpu".into()],
                    ..shown()
                },
                Some("\"profiles\""),
            ),
            (
                "an empty property name",
                ImagePut {
                    properties: BTreeMap::from([(String::new(), "x".into())]),
                    ..shown()
                },
                Some("Invalid property name \"\""),
            ),
        ];
        for (what, put, refused) in cases {
            match (check(&put), refused) {
                (Ok(()), None) => {}
                (Err(e), Some(want)) => assert!(e.to_string().contains(want), "{what}: {e}"),
                (got, want) => panic!("{what}: got {got:?}, wanted a refusal {want:?}"),
            }
        }
    }

    #[test]
    fn a_patch_adds_properties_and_replaces_flags_it_names() {
        let got = patched(shown(), &json!({"properties": {"release": "1.36"}})).unwrap();
        assert_eq!(got.properties["os"], "busybox");
        assert_eq!(got.properties["release"], "1.36");
        assert!(!got.public);
        let got = patched(shown(), &json!({"public": true})).unwrap();
        assert!(got.public);
        assert_eq!(got.properties, shown().properties);
        let bad = patched(shown(), &json!({"public": "yes"})).unwrap_err();
        assert!(bad.to_string().contains("\"public\""), "{bad}");
        assert!(patched(shown(), &json!([1])).is_err());
    }
}

//! `corral image edit|get-property|set-property|unset-property`, as lxc's: an image's
//! writable part (its properties and whether it is public) read, changed and written back
//! guarded by the ETag read, so a change made meanwhile is not overwritten unseen.

use std::io::{Read, Write};

use corral_shared::api::{Image, ImagePut};
use corral_shared::client::Client;

use crate::commands::cluster::member::{edit_until_saved, is_blank};
use crate::error::CliError;
use crate::format;
use crate::terminal;

/// The comment at the top of `image edit`'s file.
fn edit_header(fingerprint: &str) -> String {
    format!(
        "### Image {fingerprint}: its properties and whether it is public.\n\
         ### Lines starting with '#' are ignored. Save and quit to apply; empty the file to \
         cancel.\n"
    )
}

/// Reads an edited (or piped) image YAML.
pub fn parse_image_yaml(text: &str) -> Result<ImagePut, String> {
    serde_yaml::from_str(text).map_err(|e| format!("the YAML cannot be read: {e}"))
}

/// `image edit`: through the editor on a terminal, else the YAML on standard input.
pub async fn edit(client: &Client, path: &str, name: &str) -> Result<(), CliError> {
    if !terminal::stdin_is_terminal() {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        if is_blank(&text) {
            return Err(CliError::Usage(format!(
                "No YAML on standard input: pipe the image's YAML in (start from 'corral image \
                 show {name}'), or run 'corral image edit {name}' in a terminal to use an editor"
            )));
        }
        let put = parse_image_yaml(&text).map_err(CliError::Failed)?;
        client.put(path, &put, None).await?;
        return Ok(());
    }
    let (image, etag): (Image, _) = client.get_with_etag(path).await?;
    let yaml =
        format::yaml::document(&image.writable()).map_err(|e| CliError::encode("YAML", e))?;
    let text = format!("{}\n{yaml}", edit_header(&image.fingerprint));
    let (what, show) = (
        format!("image {}", image.fingerprint),
        format!("corral image show {name}"),
    );
    edit_until_saved(client, path, etag, text, &what, &show, parse_image_yaml).await
}

/// `image get-property IMAGE KEY`.
pub async fn get_property(
    client: &Client,
    path: &str,
    key: &str,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let image: Image = client.get(path).await?;
    match image.properties.get(key) {
        Some(value) => writeln!(out, "{value}")?,
        None => {
            return Err(CliError::Failed(format!(
                "Image {} has no property {key:?}: 'corral image show {}' lists its properties",
                image.fingerprint, image.fingerprint
            )));
        }
    }
    Ok(())
}

/// `image set-property IMAGE KEY VALUE` (`Some`) and `unset-property IMAGE KEY` (`None`).
pub async fn change_property(
    client: &Client,
    path: &str,
    key: &str,
    value: Option<&str>,
) -> Result<(), CliError> {
    let (image, etag): (Image, Option<String>) = client.get_with_etag(path).await?;
    let mut put = image.writable();
    match value {
        Some(value) => {
            put.properties.insert(key.to_owned(), value.to_owned());
        }
        None => {
            if put.properties.remove(key).is_none() {
                return Err(CliError::Failed(format!(
                    "Image {} has no property {key:?}: nothing to unset",
                    image.fingerprint
                )));
            }
        }
    }
    client.put(path, &put, etag.as_deref()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edit_file_reads_back_what_it_shows() {
        let image: Image = serde_json::from_value(serde_json::json!({
            "architecture": "x86_64",
            "fingerprint": "3f1a",
            "properties": {"os": "busybox", "description": "tiny"},
            "public": true,
            "expires_at": "0001-01-01T00:00:00Z",
            "profiles": ["default"],
        }))
        .unwrap();
        let yaml = format::yaml::document(&image.writable()).unwrap();
        let text = format!("{}\n{yaml}", edit_header("3f1a"));
        assert_eq!(parse_image_yaml(&text).unwrap(), image.writable());
        let bad = parse_image_yaml("public: [").unwrap_err();
        assert!(bad.contains("cannot be read"), "{bad}");
    }
}

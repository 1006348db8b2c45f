//! `corral image ...`: the cluster's images, as `lxc image` shows and manages them. An
//! import uploads the tarball itself through the REST API (LXD's `POST /1.0/images`), so it
//! works the same against a remote.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use corral_shared::api::{Envelope, Image, ImageAliasesEntry, ImageAliasesPost, Operation};
use corral_shared::client::{Client, ClientError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::CliError;
use crate::format::dates::UtcTime;
use crate::format::{self, Format};

mod edit;

/// How many characters of a fingerprint lists show (lxc's).
pub const SHORT_FINGERPRINT: usize = 12;

/// How long an upload, or an import with its copies to other members, may take.
const IMPORT_WAIT: Duration = Duration::from_secs(900);

/// How long a delete (the file removed on every member) may take.
const DELETE_WAIT: Duration = Duration::from_secs(120);

/// The `image` subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum ImageCommand {
    /// Import an image tarball (LXD's unified format: metadata.yaml and rootfs/)
    Import {
        /// The tarball
        tarball: PathBuf,
        /// The remote to import into, written REMOTE: (the default remote when left out)
        #[arg(value_name = "[REMOTE:]")]
        remote: Option<String>,
        /// An alias for it (repeatable)
        #[arg(long)]
        alias: Vec<String>,
        /// Let untrusted clients see it
        #[arg(long)]
        public: bool,
    },
    /// List the images
    #[command(visible_alias = "ls")]
    List {
        /// The remote to ask, written REMOTE: (the default remote when left out)
        #[arg(value_name = "[REMOTE:]")]
        remote: Option<String>,
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show an image's details (YAML)
    Show {
        /// `[REMOTE:]IMAGE`: an alias, a fingerprint or a unique prefix of one
        image: String,
    },
    /// Delete an image from every member
    #[command(visible_alias = "rm")]
    Delete {
        /// `[REMOTE:]IMAGE`: an alias, a fingerprint or a unique prefix of one
        image: String,
    },
    /// Download an image's tarball: into TARGET (a file, or a directory where it is named
    /// FINGERPRINT.tar.gz; the current directory when left out)
    Export {
        /// `[REMOTE:]IMAGE`: an alias, a fingerprint or a unique prefix of one
        image: String,
        /// Where to write it
        target: Option<PathBuf>,
    },
    /// Edit an image's properties and visibility as YAML (in $EDITOR, or from standard input)
    Edit {
        /// `[REMOTE:]IMAGE`: an alias, a fingerprint or a unique prefix of one
        image: String,
    },
    /// Print one of an image's properties
    GetProperty {
        /// `[REMOTE:]IMAGE`
        image: String,
        /// The property
        key: String,
    },
    /// Set one of an image's properties
    SetProperty {
        /// `[REMOTE:]IMAGE`
        image: String,
        /// The property
        key: String,
        /// Its value
        value: String,
    },
    /// Remove one of an image's properties
    UnsetProperty {
        /// `[REMOTE:]IMAGE`
        image: String,
        /// The property
        key: String,
    },
    /// Manage image aliases
    #[command(subcommand)]
    Alias(AliasCommand),
}

/// The `image alias` subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum AliasCommand {
    /// Name an image: `corral image alias create busybox 3f1a...`
    Create {
        /// `[REMOTE:]ALIAS`
        alias: String,
        /// The image's fingerprint (or a unique prefix of it)
        fingerprint: String,
        /// Free text
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Delete an alias (not the image)
    #[command(visible_alias = "rm")]
    Delete {
        /// `[REMOTE:]ALIAS`
        alias: String,
    },
    /// Rename an alias (the image it names stays)
    #[command(visible_alias = "mv")]
    Rename {
        /// `[REMOTE:]ALIAS`
        alias: String,
        /// Its new name
        new_name: String,
    },
    /// List the aliases
    #[command(visible_alias = "ls")]
    List {
        /// The remote to ask, written REMOTE: (the default remote when left out)
        #[arg(value_name = "[REMOTE:]")]
        remote: Option<String>,
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// Runs an `image` subcommand.
pub async fn run(
    client: &Client,
    command: ImageCommand,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match command {
        ImageCommand::Import {
            tarball,
            alias,
            public,
            ..
        } => {
            let fingerprint = import(client, &tarball, public).await?;
            for name in &alias {
                create_alias(client, name, &fingerprint, "").await?;
            }
            writeln!(out, "Image imported with fingerprint: {fingerprint}")?;
        }
        ImageCommand::List { format, .. } => {
            let images: Vec<Image> = client.get("/1.0/images?recursion=1").await?;
            out.write_all(image_list(&images, format)?.as_bytes())?;
        }
        ImageCommand::Show { image } => {
            let image: Image = client.get(&image_path(&image)).await?;
            let text = format::yaml::document(&image).map_err(|e| CliError::encode("YAML", e))?;
            out.write_all(text.as_bytes())?;
        }
        ImageCommand::Export { image, target } => {
            let record: Image = client.get(&image_path(&image)).await?;
            let dest = export_target(target.as_deref(), &record.fingerprint);
            let (status, body) = client
                .raw(
                    "GET",
                    &format!("/1.0/images/{}/export", record.fingerprint),
                    None,
                )
                .await?;
            if status != 200 {
                let message = serde_json::from_slice::<Envelope>(&body)
                    .map(|e| e.error)
                    .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
                return Err(ClientError::Api { status, message }.into());
            }
            std::fs::write(&dest, &body)
                .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", dest.display())))?;
            writeln!(out, "Image exported successfully!")?;
        }
        ImageCommand::Delete { image } => {
            let response = client.delete(&image_path(&image)).await?;
            wait(client, &response.operation()?, DELETE_WAIT).await?;
        }
        ImageCommand::Edit { image } => edit::edit(client, &image_path(&image), &image).await?,
        ImageCommand::GetProperty { image, key } => {
            edit::get_property(client, &image_path(&image), &key, out).await?;
        }
        ImageCommand::SetProperty { image, key, value } => {
            edit::change_property(client, &image_path(&image), &key, Some(&value)).await?;
        }
        ImageCommand::UnsetProperty { image, key } => {
            edit::change_property(client, &image_path(&image), &key, None).await?;
        }
        ImageCommand::Alias(AliasCommand::Create {
            alias,
            fingerprint,
            description,
        }) => create_alias(client, &alias, &fingerprint, &description).await?,
        ImageCommand::Alias(AliasCommand::Rename { alias, new_name }) => {
            client
                .post(
                    &format!("/1.0/images/aliases/{}", path_part(&alias)),
                    &serde_json::json!({ "name": new_name }),
                )
                .await?;
        }
        ImageCommand::Alias(AliasCommand::Delete { alias }) => {
            client
                .delete(&format!("/1.0/images/aliases/{}", path_part(&alias)))
                .await?;
        }
        ImageCommand::Alias(AliasCommand::List { format, .. }) => {
            let aliases: Vec<ImageAliasesEntry> =
                client.get("/1.0/images/aliases?recursion=1").await?;
            out.write_all(alias_list(&aliases, format)?.as_bytes())?;
        }
    }
    Ok(())
}

/// A name as one path segment: anything but unreserved characters percent-encoded.
/// The REST path of the image `name` names.
fn image_path(name: &str) -> String {
    format!("/1.0/images/{}", path_part(name))
}

fn path_part(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Where an exported image goes: `target` itself, unless it is a directory (or absent: the
/// current one), where it is named after its fingerprint.
pub fn export_target(target: Option<&std::path::Path>, fingerprint: &str) -> PathBuf {
    let name = format!("{fingerprint}.tar.gz");
    match target {
        None => PathBuf::from(name),
        Some(dir) if dir.is_dir() => dir.join(name),
        Some(file) => file.to_owned(),
    }
}

async fn wait(client: &Client, op: &Operation, limit: Duration) -> Result<Operation, CliError> {
    Ok(client
        .wait_operation(&format!("/1.0/operations/{}", op.id), limit)
        .await?)
}

/// Uploads `tarball` and waits for the import (and its copies to other members); the
/// image's fingerprint.
async fn import(
    client: &Client,
    tarball: &std::path::Path,
    public: bool,
) -> Result<String, CliError> {
    let bytes = std::fs::read(tarball).map_err(|e| {
        CliError::Failed(format!(
            "cannot read the image tarball {}: {e}",
            tarball.display()
        ))
    })?;
    // lxc sends these as X-LXD-* headers; the console's client sends none, so it asks by query.
    let name = tarball
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut path = format!("/1.0/images?filename={}", path_part(&name));
    if public {
        path.push_str("&public=1");
    }
    let uploader = client.clone().with_timeout(IMPORT_WAIT);
    let (status, body) = uploader.raw("POST", &path, Some(bytes)).await?;
    let envelope: Envelope = serde_json::from_slice(&body).map_err(|e| {
        ClientError::Protocol(format!(
            "POST /1.0/images: not an LXD response envelope ({e})"
        ))
    })?;
    if status >= 400 || !envelope.error.is_empty() {
        return Err(ClientError::Api {
            status,
            message: envelope.error,
        }
        .into());
    }
    let op: Operation = serde_json::from_value(envelope.metadata).map_err(|e| {
        ClientError::Protocol(format!("POST /1.0/images did not start an operation ({e})"))
    })?;
    let done = wait(client, &op, IMPORT_WAIT).await?;
    done.metadata
        .get("fingerprint")
        .and_then(|f| f.as_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            CliError::Failed(format!(
                "the import finished without naming the image's fingerprint (operation {}); \
                 see 'corral image list'",
                op.id
            ))
        })
}

async fn create_alias(
    client: &Client,
    name: &str,
    target: &str,
    description: &str,
) -> Result<(), CliError> {
    let post = ImageAliasesPost {
        name: name.to_owned(),
        description: description.to_owned(),
        target: target.to_owned(),
        kind: String::new(),
    };
    client.post("/1.0/images/aliases", &post).await?;
    Ok(())
}

/// A size as lxc prints it: bytes below 1 KiB, else two decimals of the largest unit.
pub fn size_text(size: i64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if size < 1024 {
        return format!("{size}B");
    }
    let mut value = size as f64;
    let mut unit = 0;
    value /= 1024.0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2}{}", UNITS[unit])
}

/// An upload date as lxc prints it: `Dec 1, 2026 at 9:04pm (UTC)`.
pub fn date_text(rfc3339: &str) -> String {
    match OffsetDateTime::parse(rfc3339, &Rfc3339) {
        Ok(t) => {
            let t = t.to_offset(time::UtcOffset::UTC);
            UtcTime {
                year: t.year() as u16,
                month: u8::from(t.month()),
                day: t.day(),
                hour: t.hour(),
                minute: t.minute(),
                second: t.second(),
            }
            .certificate_date()
        }
        Err(_) => rfc3339.to_owned(),
    }
}

/// The ALIAS cell: the first alias, and how many more (lxc's).
fn aliases_cell(image: &Image) -> String {
    let mut names: Vec<&str> = image.aliases.iter().map(|a| a.name.as_str()).collect();
    names.sort_unstable();
    match names.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [first, rest @ ..] => format!("{first} ({} more)", rest.len()),
    }
}

/// `image list` in `format`, with lxc's columns, ordered by alias then fingerprint.
pub fn image_list(images: &[Image], format: Format) -> Result<String, CliError> {
    const HEADER: [&str; 8] = [
        "ALIAS",
        "FINGERPRINT",
        "PUBLIC",
        "DESCRIPTION",
        "ARCHITECTURE",
        "TYPE",
        "SIZE",
        "UPLOAD DATE",
    ];
    let mut sorted: Vec<&Image> = images.iter().collect();
    sorted
        .sort_by(|a, b| (aliases_cell(a), &a.fingerprint).cmp(&(aliases_cell(b), &b.fingerprint)));
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|i| {
            vec![
                aliases_cell(i),
                i.fingerprint.chars().take(SHORT_FINGERPRINT).collect(),
                if i.public { "yes" } else { "no" }.to_owned(),
                i.properties.get("description").cloned().unwrap_or_default(),
                i.architecture.clone(),
                kind_text(&i.kind),
                size_text(i.size),
                date_text(&i.uploaded_at),
            ]
        })
        .collect();
    format::listing(format, &HEADER, &rows, images)
}

fn kind_text(kind: &str) -> String {
    if kind == "virtual-machine" {
        "VIRTUAL-MACHINE".into()
    } else {
        "CONTAINER".into()
    }
}

/// `image alias list` in `format`, with lxc's columns, by alias.
pub fn alias_list(aliases: &[ImageAliasesEntry], format: Format) -> Result<String, CliError> {
    const HEADER: [&str; 4] = ["ALIAS", "FINGERPRINT", "TYPE", "DESCRIPTION"];
    let mut sorted: Vec<&ImageAliasesEntry> = aliases.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                a.target.chars().take(SHORT_FINGERPRINT).collect(),
                kind_text(&a.kind),
                a.description.clone(),
            ]
        })
        .collect();
    format::listing(format, &HEADER, &rows, aliases)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use corral_shared::api::ImageAlias;

    use super::*;

    #[test]
    fn an_export_is_named_after_its_fingerprint_in_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("busybox.tar.gz");
        let cases = [
            (None, PathBuf::from("ab12.tar.gz")),
            (Some(dir.path()), dir.path().join("ab12.tar.gz")),
            (Some(file.as_path()), file.clone()),
        ];
        for (target, want) in cases {
            assert_eq!(export_target(target, "ab12"), want, "{target:?}");
        }
    }

    fn image(fp: &str, aliases: &[&str]) -> Image {
        Image {
            aliases: aliases
                .iter()
                .map(|a| ImageAlias {
                    name: (*a).to_owned(),
                    description: String::new(),
                })
                .collect(),
            architecture: "x86_64".into(),
            fingerprint: fp.into(),
            properties: BTreeMap::from([("description".into(), "Corral test image".into())]),
            size: 1_032_102,
            kind: "container".into(),
            uploaded_at: "2026-12-01T21:04:05.123456Z".into(),
            ..Image::default()
        }
    }

    #[test]
    fn sizes_and_dates_read_as_lxc_prints_them() {
        for (size, want) in [
            (0, "0B"),
            (1023, "1023B"),
            (1024, "1.00KiB"),
            (1_032_102, "1007.91KiB"),
            (3 * 1024 * 1024 + 512 * 1024, "3.50MiB"),
            (5 * 1024 * 1024 * 1024, "5.00GiB"),
        ] {
            assert_eq!(size_text(size), want, "{size}");
        }
        assert_eq!(
            date_text("2026-12-01T21:04:05.123456Z"),
            "Dec 1, 2026 at 9:04pm (UTC)"
        );
        assert_eq!(date_text("not a date"), "not a date");
    }

    #[test]
    fn the_image_list_has_lxcs_columns() {
        let fp = "c28f7c3656306da725fa23d17f53c91ae622fa44c7a80c20ff2860273f8bd4c7";
        let images = [image(fp, &["busybox", "bb"]), image(&"0".repeat(64), &[])];
        let csv = image_list(&images, Format::Csv).unwrap();
        assert_eq!(
            csv,
            ",000000000000,no,Corral test image,x86_64,CONTAINER,1007.91KiB,\"Dec 1, 2026 at 9:04pm (UTC)\"\n\
             bb (1 more),c28f7c365630,no,Corral test image,x86_64,CONTAINER,1007.91KiB,\"Dec 1, 2026 at 9:04pm (UTC)\"\n"
        );
        let table = image_list(&images, Format::Table).unwrap();
        assert!(table.contains("|    ALIAS    | FINGERPRINT  |"), "{table}");
        assert!(
            table.contains("| bb (1 more) | c28f7c365630 | no "),
            "{table}"
        );
        assert!(table.contains("UPLOAD DATE"), "{table}");
        let json: Vec<Image> =
            serde_json::from_str(&image_list(&images, Format::Json).unwrap()).unwrap();
        assert_eq!(json, images);
    }

    #[test]
    fn the_alias_list_has_lxcs_columns() {
        let aliases = [
            ImageAliasesEntry {
                name: "tiny".into(),
                description: "small".into(),
                target: "ab".repeat(32),
                kind: "container".into(),
            },
            ImageAliasesEntry {
                name: "busybox".into(),
                description: String::new(),
                target: "cd".repeat(32),
                kind: "container".into(),
            },
        ];
        assert_eq!(
            alias_list(&aliases, Format::Csv).unwrap(),
            "busybox,cdcdcdcdcdcd,CONTAINER,\ntiny,abababababab,CONTAINER,small\n"
        );
    }

    #[test]
    fn names_are_one_path_segment() {
        assert_eq!(path_part("busybox-1.36"), "busybox-1.36");
        assert_eq!(path_part("a/b c"), "a%2Fb%20c");
    }
}

//! The image tables (`images`, `images_properties`, `images_aliases`, `images_nodes`):
//! which images the cluster knows, their aliases, and which members hold each file.
//! Reads and statements; statements name an image by fingerprint (a subselect), so a batch
//! needs no id from an earlier write.

use std::collections::BTreeMap;

use rusqlite::Connection;

use crate::db::batch::Batch;

/// One image as the database records it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageRecord {
    /// Row id.
    pub id: i64,
    /// SHA-256 of the image file, hex.
    pub fingerprint: String,
    /// The file name it was uploaded as.
    pub filename: String,
    /// Size of the file in bytes.
    pub size: i64,
    /// Whether untrusted clients may see it.
    pub public: bool,
    /// Architecture from its metadata (`x86_64`).
    pub architecture: String,
    /// When the image was made (RFC 3339, from its metadata).
    pub creation_date: String,
    /// When it was imported (RFC 3339).
    pub upload_date: String,
    /// `container` (the only kind Corral runs).
    pub kind: String,
    /// Properties from its metadata (`os`, `release`, `description`...).
    pub properties: BTreeMap<String, String>,
    /// Aliases naming it: (name, description), by name.
    pub aliases: Vec<(String, String)>,
    /// Ids of the members holding its file.
    pub holders: Vec<u64>,
}

/// Every image with its properties, aliases and holders, by fingerprint.
pub fn images(conn: &Connection) -> rusqlite::Result<Vec<ImageRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, fingerprint, filename, size, public, architecture, creation_date, upload_date, type
         FROM images ORDER BY fingerprint",
    )?;
    let mut out: Vec<ImageRecord> = stmt
        .query_map([], |r| {
            Ok(ImageRecord {
                id: r.get(0)?,
                fingerprint: r.get(1)?,
                filename: r.get(2)?,
                size: r.get(3)?,
                public: r.get::<_, i64>(4)? != 0,
                architecture: r.get(5)?,
                creation_date: r.get(6)?,
                upload_date: r.get(7)?,
                kind: r.get(8)?,
                ..ImageRecord::default()
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let index: BTreeMap<i64, usize> = out.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let mut stmt =
        conn.prepare_cached("SELECT image_id, key, value FROM images_properties ORDER BY key")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        if let Some(&i) = index.get(&r.get::<_, i64>(0)?) {
            out[i].properties.insert(r.get(1)?, r.get(2)?);
        }
    }
    let mut stmt = conn
        .prepare_cached("SELECT image_id, name, description FROM images_aliases ORDER BY name")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        if let Some(&i) = index.get(&r.get::<_, i64>(0)?) {
            out[i].aliases.push((r.get(1)?, r.get(2)?));
        }
    }
    let mut stmt =
        conn.prepare_cached("SELECT image_id, node_id FROM images_nodes ORDER BY node_id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        if let Some(&i) = index.get(&r.get::<_, i64>(0)?) {
            out[i].holders.push(r.get::<_, i64>(1)? as u64);
        }
    }
    Ok(out)
}

/// Records a new image (without holders or aliases).
pub fn insert(batch: &mut Batch, image: &ImageRecord) {
    batch.push(
        "INSERT INTO images (fingerprint, filename, size, public, architecture, creation_date, upload_date, type)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            (&image.fingerprint).into(),
            (&image.filename).into(),
            image.size.into(),
            image.public.into(),
            (&image.architecture).into(),
            (&image.creation_date).into(),
            (&image.upload_date).into(),
            (&image.kind).into(),
        ],
    );
    insert_properties(batch, &image.fingerprint, &image.properties);
}

fn insert_properties(batch: &mut Batch, fingerprint: &str, properties: &BTreeMap<String, String>) {
    for (key, value) in properties {
        batch.push(
            "INSERT INTO images_properties (image_id, key, value)
             SELECT id, ?, ? FROM images WHERE fingerprint = ?",
            vec![key.into(), value.into(), fingerprint.into()],
        );
    }
}

/// Replaces the writable part of image `fingerprint`: whether it is public, and its
/// properties. The first statement's row count says whether the image is there.
pub fn update(
    batch: &mut Batch,
    fingerprint: &str,
    public: bool,
    properties: &BTreeMap<String, String>,
) {
    batch.push(
        "UPDATE images SET public = ? WHERE fingerprint = ?",
        vec![public.into(), fingerprint.into()],
    );
    batch.push(
        "DELETE FROM images_properties WHERE image_id = (SELECT id FROM images WHERE fingerprint = ?)",
        vec![fingerprint.into()],
    );
    insert_properties(batch, fingerprint, properties);
}

/// Records that member `node_id` holds the file of image `fingerprint` (once).
pub fn add_holder(batch: &mut Batch, fingerprint: &str, node_id: u64) {
    batch.push(
        "INSERT OR IGNORE INTO images_nodes (image_id, node_id)
         SELECT id, ? FROM images WHERE fingerprint = ?",
        vec![node_id.into(), fingerprint.into()],
    );
}

/// Records that member `node_id` no longer holds the file of image `fingerprint`.
pub fn remove_holder(batch: &mut Batch, fingerprint: &str, node_id: u64) {
    batch.push(
        "DELETE FROM images_nodes WHERE node_id = ?
         AND image_id = (SELECT id FROM images WHERE fingerprint = ?)",
        vec![node_id.into(), fingerprint.into()],
    );
}

/// Deletes image `fingerprint`; its properties, aliases and holders go with it.
pub fn delete(batch: &mut Batch, fingerprint: &str) {
    batch.push(
        "DELETE FROM images WHERE fingerprint = ?",
        vec![fingerprint.into()],
    );
}

/// Names image `fingerprint` `name` (the name is unique across images).
pub fn add_alias(batch: &mut Batch, name: &str, description: &str, fingerprint: &str) {
    batch.push(
        "INSERT INTO images_aliases (name, image_id, description)
         SELECT ?, id, ? FROM images WHERE fingerprint = ?",
        vec![name.into(), description.into(), fingerprint.into()],
    );
}

/// Renames alias `old` to `new` (its row count says whether there was one; a `new` in use
/// fails the batch on the names' uniqueness).
pub fn rename_alias(batch: &mut Batch, old: &str, new: &str) {
    batch.push(
        "UPDATE images_aliases SET name = ? WHERE name = ?",
        vec![new.into(), old.into()],
    );
}

/// Deletes alias `name` (its row count says whether there was one).
pub fn delete_alias(batch: &mut Batch, name: &str) {
    batch.push(
        "DELETE FROM images_aliases WHERE name = ?",
        vec![name.into()],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrations;
    use std::path::Path;

    fn conn() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        migrations::migrate(
            &mut conn,
            Path::new("t.db"),
            crate::db::global::schema::MIGRATIONS,
        )
        .unwrap();
        conn.execute_batch(
            "INSERT INTO nodes (id, name, address, schema, api_extensions, heartbeat, arch)
             VALUES (11, 'm11', '127.0.0.1:1', 1, 1, '', 'x86_64'),
                    (12, 'm12', '127.0.0.1:2', 1, 1, '', 'x86_64')",
        )
        .unwrap();
        conn
    }

    fn apply(conn: &mut Connection, batch: &Batch) -> crate::db::batch::BatchOutcome {
        let tx = conn.transaction().unwrap();
        let outcome = crate::db::batch::apply(&tx, batch).unwrap();
        tx.commit().unwrap();
        outcome
    }

    fn image(fp: &str) -> ImageRecord {
        ImageRecord {
            fingerprint: fp.into(),
            filename: "busybox.tar.gz".into(),
            size: 1234,
            architecture: "x86_64".into(),
            creation_date: "2026-12-01T10:00:00Z".into(),
            upload_date: "2026-12-01T11:00:00Z".into(),
            kind: "container".into(),
            properties: BTreeMap::from([("os".into(), "busybox".into())]),
            ..ImageRecord::default()
        }
    }

    #[test]
    fn images_are_stored_with_properties_aliases_and_holders_and_deleted_whole() {
        let mut conn = conn();
        let mut batch = Batch::new();
        insert(&mut batch, &image("aa"));
        insert(&mut batch, &image("bb"));
        add_holder(&mut batch, "aa", 11);
        add_holder(&mut batch, "aa", 12);
        add_holder(&mut batch, "aa", 12);
        add_alias(&mut batch, "tiny", "small", "aa");
        assert!(apply(&mut conn, &batch).error.is_none());
        let all = images(&conn).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].holders, [11, 12]);
        assert_eq!(all[0].aliases, [("tiny".to_owned(), "small".to_owned())]);
        assert_eq!(all[0].properties["os"], "busybox");
        assert!(all[1].holders.is_empty());

        // An alias names one image only.
        let mut batch = Batch::new();
        add_alias(&mut batch, "tiny", "", "bb");
        assert!(apply(&mut conn, &batch).error.is_some());
        // The same fingerprint cannot be recorded twice.
        let mut batch = Batch::new();
        insert(&mut batch, &image("aa"));
        assert!(apply(&mut conn, &batch).error.is_some());

        let mut batch = Batch::new();
        remove_holder(&mut batch, "aa", 11);
        delete(&mut batch, "bb");
        delete_alias(&mut batch, "nothing");
        let outcome = apply(&mut conn, &batch);
        assert_eq!(outcome.rows_affected, [1, 1, 0]);
        let all = images(&conn).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].holders, [12]);

        let mut batch = Batch::new();
        delete(&mut batch, "aa");
        apply(&mut conn, &batch);
        for table in [
            "images",
            "images_properties",
            "images_aliases",
            "images_nodes",
        ] {
            let n: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0, "{table}");
        }
    }

    #[test]
    fn an_update_replaces_the_properties_and_visibility_of_one_image() {
        let mut conn = conn();
        let mut batch = Batch::new();
        insert(&mut batch, &image("aa"));
        insert(&mut batch, &image("bb"));
        apply(&mut conn, &batch);
        let mut batch = Batch::new();
        let properties = BTreeMap::from([("release".into(), "1.36".into())]);
        update(&mut batch, "aa", true, &properties);
        update(&mut batch, "cc", true, &properties);
        let outcome = apply(&mut conn, &batch);
        assert_eq!(outcome.rows_affected[0], 1, "aa is there");
        assert_eq!(outcome.rows_affected[3], 0, "cc is not");
        let all = images(&conn).unwrap();
        assert!(all[0].public);
        assert_eq!(all[0].properties, properties);
        assert!(!all[1].public);
        assert_eq!(all[1].properties["os"], "busybox");
    }
}

//! The `certificates` table (the trust store): its type codes, reads and statements.

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension};

use crate::db::batch::{Batch, SqlValue};

/// A certificate's type, stored as LXD numbers it (`certificates.type`: 1 client, 2 server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CertificateType {
    /// A client's (an operator, a tool).
    Client,
    /// A member's server certificate.
    Server,
}

impl CertificateType {
    /// LXD's number for it.
    pub const fn code(self) -> i64 {
        match self {
            CertificateType::Client => 1,
            CertificateType::Server => 2,
        }
    }

    /// The type a stored number stands for: anything but a server's is a client's.
    pub const fn from_code(code: i64) -> CertificateType {
        if code == 2 {
            CertificateType::Server
        } else {
            CertificateType::Client
        }
    }

    /// The API's word for it.
    pub const fn word(self) -> &'static str {
        match self {
            CertificateType::Client => "client",
            CertificateType::Server => "server",
        }
    }
}

impl From<CertificateType> for SqlValue {
    fn from(t: CertificateType) -> Self {
        SqlValue::Integer(t.code())
    }
}

impl ToSql for CertificateType {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.code()))
    }
}

impl FromSql for CertificateType {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        i64::column_result(v).map(CertificateType::from_code)
    }
}

/// Whether a client certificate with this fingerprint is in the trust store.
pub fn certificate_trusted(conn: &Connection, fingerprint: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM certificates WHERE fingerprint = ?",
            [fingerprint],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// A row of the trust store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRow {
    /// SHA-256 of the DER, hex.
    pub fingerprint: String,
    /// Client or server (a member's).
    pub kind: CertificateType,
    /// Its name.
    pub name: String,
    /// PEM.
    pub certificate: String,
}

/// Every trusted certificate.
pub fn certificates(conn: &Connection) -> rusqlite::Result<Vec<CertificateRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT fingerprint, type, name, certificate FROM certificates ORDER BY name, fingerprint",
    )?;
    stmt.query_map([], |r| {
        Ok(CertificateRow {
            fingerprint: r.get(0)?,
            kind: r.get(1)?,
            name: r.get(2)?,
            certificate: r.get(3)?,
        })
    })?
    .collect()
}

/// Trusts a certificate (PEM) by fingerprint; trusting it again renames it and never turns a
/// server certificate into a client's.
pub fn trust(batch: &mut Batch, fingerprint: &str, kind: CertificateType, name: &str, pem: &str) {
    batch.push(
        "INSERT INTO certificates (fingerprint, type, name, certificate) VALUES (?, ?, ?, ?)
         ON CONFLICT (fingerprint) DO UPDATE SET type = max(type, excluded.type), name = excluded.name",
        vec![fingerprint.into(), kind.into(), name.into(), pem.into()],
    );
}

/// Forgets the certificate with this fingerprint.
pub fn forget(batch: &mut Batch, fingerprint: &str) {
    batch.push(
        "DELETE FROM certificates WHERE fingerprint = ?",
        vec![fingerprint.into()],
    );
}

/// Forgets member `name`'s server certificate.
pub fn forget_member(batch: &mut Batch, name: &str) {
    batch.push(
        "DELETE FROM certificates WHERE name = ? AND type = ?",
        vec![name.into(), CertificateType::Server.into()],
    );
}

/// Renames member `old`'s server certificate with the member.
pub fn rename_member(batch: &mut Batch, old: &str, new: &str) {
    batch.push(
        "UPDATE certificates SET name = ? WHERE name = ? AND type = 2",
        vec![new.into(), old.into()],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_lxds_numbers() {
        for (t, code, word) in [
            (CertificateType::Client, 1, "client"),
            (CertificateType::Server, 2, "server"),
        ] {
            assert_eq!(
                (t.code(), CertificateType::from_code(code), t.word()),
                (code, t, word)
            );
        }
    }

    #[test]
    fn trusting_again_keeps_a_server_certificate_a_servers() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::db::global::schema::SCHEMA)
            .unwrap();
        let mut batch = Batch::new();
        trust(&mut batch, "fp", CertificateType::Server, "m1", "pem");
        trust(&mut batch, "fp", CertificateType::Client, "renamed", "pem");
        let tx = conn.transaction().unwrap();
        assert!(
            crate::db::batch::apply(&tx, &batch)
                .unwrap()
                .error
                .is_none()
        );
        tx.commit().unwrap();
        let rows = certificates(&conn).unwrap();
        assert_eq!(
            (rows[0].kind, rows[0].name.as_str()),
            (CertificateType::Server, "renamed")
        );
        assert!(certificate_trusted(&conn, "fp").unwrap());
    }
}

//! One writer's change: a batch of SQL statements with bound parameters, applied by every
//! replica all or nothing (Raft entries carry them grouped, see `proposal`). Everything
//! non-deterministic (time, random ids) is computed before the batch is proposed, so every
//! replica applies the same values.

use rusqlite::types::{ToSql, ToSqlOutput, Value, ValueRef};
use serde::{Deserialize, Serialize};

/// One bound parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SqlValue {
    /// SQL NULL.
    Null,
    /// A 64-bit integer.
    Integer(i64),
    /// A double.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_owned())
    }
}
impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}
impl From<&String> for SqlValue {
    fn from(v: &String) -> Self {
        SqlValue::Text(v.clone())
    }
}
impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Integer(v)
    }
}
impl From<u64> for SqlValue {
    fn from(v: u64) -> Self {
        SqlValue::Integer(v as i64)
    }
}
impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        SqlValue::Integer(v as i64)
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

impl ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            SqlValue::Null => ToSqlOutput::Owned(Value::Null),
            SqlValue::Integer(i) => ToSqlOutput::Owned(Value::Integer(*i)),
            SqlValue::Real(r) => ToSqlOutput::Owned(Value::Real(*r)),
            SqlValue::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            SqlValue::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

/// One statement and its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// The SQL text, with `?` placeholders.
    pub sql: String,
    /// Values for the placeholders, in order.
    pub params: Vec<SqlValue>,
}

/// The statements of one replicated write.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Applied in order, all or nothing.
    pub statements: Vec<Statement>,
    /// Set before a batch is first sent to another member: a batch sent again after an
    /// attempt of unknown outcome (the leader may have committed it, then the answer was
    /// lost) carries the same id, and the state machine applies an id once (see
    /// `proposal`). Absent from entries written before ids, and from local writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Who asked for the change, for the lifecycle events every member derives from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requestor: Option<corral_shared::api::Requestor>,
}

/// `n` comma-separated `?` placeholders, for an `IN (...)` list or a `VALUES` row. An empty
/// list gives none: SQLite takes `IN ()` (nothing matches) and `NOT IN ()` (everything does).
pub fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a statement.
    pub fn push(&mut self, sql: impl Into<String>, params: Vec<SqlValue>) -> &mut Self {
        self.statements.push(Statement {
            sql: sql.into(),
            params,
        });
        self
    }

    /// Adds every statement of another batch.
    pub fn extend(&mut self, other: Batch) -> &mut Self {
        self.statements.extend(other.statements);
        self
    }

    /// Gives the batch an id of its own unless it has one, so that sending it again
    /// cannot apply it twice.
    pub fn identified(&mut self) -> &str {
        self.id
            .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Roughly how many bytes it takes in an entry: its SQL and parameter values.
    pub fn size(&self) -> usize {
        let value = |v: &SqlValue| match v {
            SqlValue::Text(t) => t.len(),
            SqlValue::Blob(b) => b.len(),
            _ => 8,
        };
        self.statements
            .iter()
            .map(|s| s.sql.len() + s.params.iter().map(value).sum::<usize>())
            .sum()
    }
}

/// What applying a batch did: rows changed per statement, or why it was rolled back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchOutcome {
    /// Rows changed by each statement (empty when the batch failed).
    pub rows_affected: Vec<usize>,
    /// The SQL error that rolled the whole batch back, identical on every replica.
    pub error: Option<String>,
}

/// How many SQLite virtual machine steps one batch may take. Counted in steps, not time, so
/// a batch that runs past it is stopped at the same point on every replica, however busy
/// each is; ordinary changes take a few thousand. About a second of work.
pub const MAX_BATCH_STEPS: u64 = if cfg!(test) { 2_000_000 } else { 100_000_000 };

/// The progress handler runs every this many steps.
const STEPS_PER_TICK: u64 = 1000;

thread_local! {
    /// Ticks left to the batch being applied on this thread; `None` outside a batch.
    static TICKS_LEFT: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Bounds every batch [`apply`] runs on `conn` to [`MAX_BATCH_STEPS`]; other statements on
/// it are not counted. The state machine's connection is bound once, when opened.
pub fn bound_steps(conn: &mut rusqlite::Connection) -> rusqlite::Result<()> {
    conn.progress_handler(
        STEPS_PER_TICK as std::os::raw::c_int,
        Some(|| {
            TICKS_LEFT.with(|left| match left.get() {
                None => false,
                Some(0) => true,
                Some(n) => {
                    left.set(Some(n - 1));
                    false
                }
            })
        }),
    )
}

/// The outcome of a batch stopped by the step bound.
pub fn past_step_bound() -> BatchOutcome {
    BatchOutcome {
        rows_affected: Vec::new(),
        error: Some(format!(
            "the change ran past {MAX_BATCH_STEPS} SQLite steps, the most one change may take \
             (every member would have to run it while holding every other write), and was \
             stopped with nothing of it applied: make it do less (a LIMIT on a recursive WITH, \
             or several smaller changes)"
        )),
    }
}

/// The error [`apply`] returns when the step bound stopped a statement that writes: SQLite
/// then rolls back the whole enclosing transaction, not just the batch, so the caller must
/// start its transaction again with this batch refused ([`past_step_bound`]) unrun.
const ROLLED_BACK: &str =
    "a change ran past the step bound while writing; the transaction was rolled back";

/// Whether `e` is [`apply`]'s report that the step bound rolled back the transaction.
pub fn rolled_back_by_step_bound(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(_, Some(m)) if m == ROLLED_BACK)
}

/// Arms the step bound for one batch; disarmed when dropped.
struct Armed;

impl Armed {
    fn new() -> Self {
        TICKS_LEFT.with(|left| left.set(Some(MAX_BATCH_STEPS / STEPS_PER_TICK)));
        Armed
    }

    fn ran_out() -> bool {
        TICKS_LEFT.with(|left| left.get() == Some(0))
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        TICKS_LEFT.with(|left| left.set(None));
    }
}

/// Applies a batch inside `tx` under a savepoint: on any error nothing of it stays, and
/// the error is returned as data so every replica records the same outcome. On a connection
/// bound by [`bound_steps`], a batch past [`MAX_BATCH_STEPS`] is refused the same way,
/// unless it was stopped while writing (see [`rolled_back_by_step_bound`]).
pub fn apply(tx: &rusqlite::Transaction<'_>, batch: &Batch) -> rusqlite::Result<BatchOutcome> {
    // Cached statements: every batch of every write opens and releases a savepoint, on
    // every replica; parsing them each time showed in the write path's profile.
    tx.prepare_cached("SAVEPOINT batch")?.execute([])?;
    let mut rows = Vec::with_capacity(batch.statements.len());
    let armed = Armed::new();
    for stmt in &batch.statements {
        let params: Vec<&dyn ToSql> = stmt.params.iter().map(|p| p as &dyn ToSql).collect();
        match execute(tx, &stmt.sql, &params) {
            Ok(n) => rows.push(n),
            Err(error) => {
                let bound = Armed::ran_out();
                drop(armed);
                if bound && tx.is_autocommit() {
                    return Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_INTERRUPT),
                        Some(ROLLED_BACK.into()),
                    ));
                }
                tx.execute_batch("ROLLBACK TO batch; RELEASE batch")?;
                if bound {
                    return Ok(past_step_bound());
                }
                return Ok(BatchOutcome {
                    rows_affected: Vec::new(),
                    error: Some(error),
                });
            }
        }
    }
    drop(armed);
    tx.prepare_cached("RELEASE batch")?.execute([])?;
    Ok(BatchOutcome {
        rows_affected: rows,
        error: None,
    })
}

/// Runs one statement of a batch; what refuses it, as the outcome records it.
fn execute(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    params: &[&dyn ToSql],
) -> Result<usize, String> {
    let mut statement = tx.prepare_cached(sql).map_err(|e| e.to_string())?;
    // SQLite calls exactly these read-only with no result: transaction control, which would
    // end the savepoint (and the apply's transaction) on every replica, and ATTACH/DETACH.
    // Whoever proposed one, it is refused as data, on every replica alike.
    if statement.readonly() && statement.column_count() == 0 {
        return Err(format!(
            "'{sql}' is not allowed in a change to the database: a batch runs as one \
             transaction, so BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, ATTACH and DETACH \
             are refused"
        ));
    }
    statement.execute(params).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
            .unwrap();
        conn
    }

    fn count(conn: &rusqlite::Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM kv", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn batches_apply_all_or_nothing() {
        struct Case {
            name: &'static str,
            statements: Vec<(&'static str, Vec<SqlValue>)>,
            rows: usize,
            error: bool,
        }
        let cases = [
            Case {
                name: "two inserts",
                statements: vec![
                    ("INSERT INTO kv VALUES (?, ?)", vec!["a".into(), "1".into()]),
                    ("INSERT INTO kv VALUES (?, ?)", vec!["b".into(), "2".into()]),
                ],
                rows: 2,
                error: false,
            },
            Case {
                name: "second violates the key: first rolled back too",
                statements: vec![
                    ("INSERT INTO kv VALUES (?, ?)", vec!["a".into(), "1".into()]),
                    ("INSERT INTO kv VALUES (?, ?)", vec!["a".into(), "2".into()]),
                ],
                rows: 0,
                error: true,
            },
            Case {
                name: "null into NOT NULL",
                statements: vec![(
                    "INSERT INTO kv VALUES (?, ?)",
                    vec!["a".into(), SqlValue::Null],
                )],
                rows: 0,
                error: true,
            },
            Case {
                name: "empty batch",
                statements: vec![],
                rows: 0,
                error: false,
            },
        ];
        for case in cases {
            let mut conn = db();
            let mut batch = Batch::new();
            for (sql, params) in case.statements {
                batch.push(sql, params);
            }
            let tx = conn.transaction().unwrap();
            let outcome = apply(&tx, &batch).unwrap();
            tx.commit().unwrap();
            assert_eq!(outcome.error.is_some(), case.error, "{}", case.name);
            assert_eq!(count(&conn) as usize, case.rows, "{}", case.name);
        }
    }

    #[test]
    fn a_failed_batch_leaves_the_surrounding_transaction_usable() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let mut bad = Batch::new();
        bad.push("INSERT INTO nowhere VALUES (1)", vec![]);
        assert!(apply(&tx, &bad).unwrap().error.is_some());
        let mut good = Batch::new();
        good.push("INSERT INTO kv VALUES ('k', 'v')", vec![]);
        assert_eq!(apply(&tx, &good).unwrap().rows_affected, vec![1]);
        tx.commit().unwrap();
        assert_eq!(count(&conn), 1);
    }

    #[test]
    fn transaction_control_in_a_batch_is_refused_as_data_and_the_transaction_goes_on() {
        for sql in [
            "COMMIT",
            "ROLLBACK",
            "RELEASE batch",
            "SAVEPOINT x",
            "BEGIN",
            "DETACH x",
        ] {
            let mut conn = db();
            let tx = conn.transaction().unwrap();
            let mut batch = Batch::new();
            batch.push("INSERT INTO kv (k, v) VALUES ('a', '1')", vec![]);
            batch.push(sql, vec![]);
            let outcome = apply(&tx, &batch).unwrap();
            let error = outcome.error.unwrap_or_else(|| panic!("{sql} was applied"));
            assert!(error.contains("is not allowed"), "{sql}: {error}");
            // The apply's own transaction is intact: the next batch applies and commits.
            let mut next = Batch::new();
            next.push("INSERT INTO kv (k, v) VALUES ('b', '2')", vec![]);
            assert_eq!(apply(&tx, &next).unwrap().error, None, "after {sql}");
            tx.commit().unwrap();
            assert_eq!(count(&conn), 1, "after {sql}");
        }
    }

    /// An endless statement (a recursive WITH without LIMIT) is stopped after the same
    /// number of steps everywhere: read-only it is refused as data; writing, SQLite rolls
    /// back the whole transaction, which the caller is told so it can start again.
    #[test]
    fn a_batch_past_the_step_bound_is_stopped_with_a_clear_error() {
        let endless_select = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
                              SELECT count(*) FROM c";
        let endless_insert = "INSERT INTO kv (k, v) WITH RECURSIVE c(x) AS \
                              (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x, x FROM c";
        let mut conn = db();
        bound_steps(&mut conn).unwrap();
        let tx = conn.transaction().unwrap();
        let mut first = Batch::new();
        first.push("INSERT INTO kv VALUES ('kept', 'v')", vec![]);
        assert_eq!(apply(&tx, &first).unwrap().error, None);

        let mut reading = Batch::new();
        reading.push("INSERT INTO kv VALUES ('dropped', 'v')", vec![]);
        reading.push(endless_select, vec![]);
        let outcome = apply(&tx, &reading).unwrap();
        let error = outcome.error.expect("an endless statement was refused");
        for want in [
            "ran past 2000000 SQLite steps",
            "a LIMIT on a recursive WITH",
        ] {
            assert!(error.contains(want), "{want:?} in {error}");
        }
        // The transaction goes on; the refused batch left nothing.
        assert!(!tx.is_autocommit());
        assert_eq!(count(&tx), 1);

        let mut writing = Batch::new();
        writing.push(endless_insert, vec![]);
        let err = apply(&tx, &writing).unwrap_err();
        assert!(rolled_back_by_step_bound(&err), "{err}");
        drop(tx);
        // Outside a batch nothing is counted: the same read runs to its end when bounded.
        let n: i64 = conn
            .query_row(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 300000) \
                 SELECT count(*) FROM c",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 300_000);
    }
}

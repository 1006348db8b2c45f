//! `POST /internal/sql`: `corrald sql local|global "QUERY"`, over the unix socket only.
//!
//! The text may hold several statements separated by `;`. SQLite itself splits and checks
//! them (prepared, not run) before anything happens, so a typo in the third statement
//! changes nothing. Then:
//! - statements that return rows are queries: they read this member's copy (on `global`,
//!   the local replica, which may lag the leader a little);
//! - the others are writes: on `global` they go through Raft as one entry, all or nothing,
//!   applied by every replica; on `local` they run in one transaction on this member only.
//!
//! Queries and writes are not mixed in one call: a query after a write would read the
//! replica before the write reached it, which would mislead. Statements are prepared against
//! the current schema, so a statement using a table created earlier in the same call fails;
//! run such statements as separate calls.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::routing::post;
use rusqlite::Connection;
use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::types::ValueRef;
use serde::{Deserialize, Serialize};

use super::{ApiResult, json_body, sync};
use crate::api::Peer;
use crate::db::batch::Batch;
use crate::error::Error;
use crate::node::Node;

pub fn routes() -> Router<Arc<Node>> {
    Router::new().route("/internal/sql", post(run))
}

/// The request body.
#[derive(Debug, Deserialize)]
struct SqlRequest {
    /// `local` or `global`.
    database: String,
    /// One or more statements.
    query: String,
}

/// One statement's result, in LXD's shape (`type` is `select` or `exec`).
#[derive(Debug, Clone, PartialEq, Serialize)]
struct SqlResult {
    #[serde(rename = "type")]
    kind: &'static str,
    columns: Vec<String>,
    rows: Vec<Vec<serde_json::Value>>,
    rows_affected: usize,
}

/// What a statement is, learnt by preparing it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Planned {
    /// Its own text.
    sql: String,
    /// Whether it returns rows.
    returns_rows: bool,
    /// Whether it leaves the database as it was.
    read_only: bool,
}

/// How long one call may run on a database before it is stopped: a query that never ends
/// (a recursive WITH without LIMIT) would otherwise hold the connection for good, and on
/// `local` that is the one the Raft log is written through.
const RUN_LIMIT: Duration = Duration::from_secs(10);

/// How the refusal of a statement stopped by [`bounded`] begins.
const STOPPED: &str = "the statement was stopped";

/// Runs `work`, interrupting SQLite through `interrupt` if it takes longer than
/// [`RUN_LIMIT`].
fn bounded<T>(
    interrupt: rusqlite::InterruptHandle,
    work: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    let (finished, done) = mpsc::channel::<()>();
    let watch = std::thread::spawn(move || {
        let late = done.recv_timeout(RUN_LIMIT) == Err(mpsc::RecvTimeoutError::Timeout);
        if late {
            interrupt.interrupt();
        }
        late
    });
    let result = work();
    drop(finished);
    let interrupted = watch.join().unwrap_or(false);
    match result {
        Err(_) if interrupted => Err(Error::BadRequest(format!(
            "{STOPPED} after {} s: it ran too long (a recursive WITH without a LIMIT?); add a LIMIT or narrow it down",
            RUN_LIMIT.as_secs()
        ))),
        other => other,
    }
}

fn sql_error(e: rusqlite::Error) -> Error {
    Error::BadRequest(e.to_string())
}

/// Splits and checks the text with SQLite's own parser, without running anything.
fn plan(conn: &Connection, query: &str) -> Result<Vec<Planned>, Error> {
    let mut statements = rusqlite::Batch::new(conn, query);
    let mut planned = Vec::new();
    while let Some(stmt) = statements.next().map_err(sql_error)? {
        if stmt.parameter_count() > 0 {
            return Err(Error::BadRequest(
                "parameters ('?') are not supported: write the values into the statement".into(),
            ));
        }
        let sql = stmt.expanded_sql().ok_or_else(|| {
            Error::Internal("SQLite could not give a statement's text back".into())
        })?;
        // SQLite calls exactly these read-only with no result: transaction control (which
        // would end the transaction a global write is applied in, on every member) and
        // ATTACH/DETACH (which would change the connection the daemon keeps).
        if stmt.readonly() && stmt.column_count() == 0 {
            return Err(Error::BadRequest(format!(
                "'{sql}' is refused: BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, ATTACH and DETACH are not allowed, as the statements of one call already run as one transaction (on global, one Raft entry); run statements that must not go together as separate 'corrald sql' calls"
            )));
        }
        planned.push(Planned {
            sql,
            returns_rows: stmt.column_count() > 0,
            read_only: stmt.readonly(),
        });
    }
    if planned.is_empty() {
        return Err(Error::BadRequest(
            "no SQL statement given: pass one, e.g. corrald sql global \"SELECT * FROM nodes\""
                .into(),
        ));
    }
    Ok(planned)
}

/// Whether the plan is all queries (true) or all writes (false); mixing is refused.
fn all_queries(planned: &[Planned], global: bool) -> Result<bool, Error> {
    if global && let Some(p) = planned.iter().find(|p| p.returns_rows && !p.read_only) {
        return Err(Error::BadRequest(format!(
            "'{}' both writes and returns rows (RETURNING?): writes to the global database go through Raft and return only a count; drop the RETURNING clause and query afterwards",
            p.sql
        )));
    }
    let queries = planned.iter().filter(|p| p.returns_rows).count();
    match queries {
        0 => Ok(false),
        n if n == planned.len() => Ok(true),
        _ => Err(Error::BadRequest(
            "the statements mix queries and writes: run the writes and the queries as separate 'corrald sql' calls".into(),
        )),
    }
}

/// A value as JSON: numbers and text as they are, bytes as text when they are UTF-8.
fn json_value(v: ValueRef<'_>) -> serde_json::Value {
    match v {
        ValueRef::Null => serde_json::Value::Null,
        ValueRef::Integer(i) => i.into(),
        ValueRef::Real(r) => r.into(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
        ValueRef::Blob(b) => match std::str::from_utf8(b) {
            Ok(text) => text.into(),
            Err(_) => format!("x'{}'", hex::encode(b)).into(),
        },
    }
}

fn query(conn: &Connection, sql: &str) -> rusqlite::Result<SqlResult> {
    let mut stmt = conn.prepare(sql)?;
    let columns: Vec<String> = stmt.column_names().map(str::to_owned).collect();
    let width = columns.len();
    let rows = stmt
        .query_map([], |r| {
            (0..width)
                .map(|i| r.get_ref(i).map(json_value))
                .collect::<rusqlite::Result<Vec<_>>>()
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(SqlResult {
        kind: "select",
        columns,
        rows,
        rows_affected: 0,
    })
}

fn exec_result(rows_affected: usize) -> SqlResult {
    SqlResult {
        kind: "exec",
        columns: Vec::new(),
        rows: Vec::new(),
        rows_affected,
    }
}

/// Plans, then runs every statement on `conn`: queries one by one, writes in one transaction.
fn run_on(conn: &mut Connection, text: &str, global: bool) -> Result<Vec<SqlResult>, Error> {
    let planned = plan(conn, text)?;
    if all_queries(&planned, global)? {
        return planned
            .iter()
            .map(|p| query(conn, &p.sql).map_err(sql_error))
            .collect();
    }
    let tx = conn.transaction().map_err(sql_error)?;
    let mut results = Vec::new();
    for p in &planned {
        results.push(exec_result(tx.execute(&p.sql, []).map_err(sql_error)?));
    }
    tx.commit().map_err(sql_error)?;
    Ok(results)
}

async fn run(
    State(node): State<Arc<Node>>,
    Extension(peer): Extension<Peer>,
    body: Bytes,
) -> ApiResult {
    // Raw SQL is for the operator at the machine, never for the network.
    super::internal::local_only(&peer)?;
    let req: SqlRequest = json_body(&body)?;
    let results = match req.database.as_str() {
        "local" => {
            let local = node.local.clone();
            tokio::task::spawn_blocking(move || {
                let mut conn = local.lock();
                let interrupt = conn.get_interrupt_handle();
                bounded(interrupt, || run_on(&mut conn, &req.query, false))
            })
            .await
            .map_err(|e| Error::Internal(e.to_string()))??
        }
        "global" => global(&node, req.query).await?,
        other => {
            return Err(Error::BadRequest(format!(
                "unknown database {other:?}: use 'local' (this member's) or 'global' (the cluster's)"
            ))
            .into());
        }
    };
    sync(&serde_json::json!({ "results": results }), None)
}

/// What a call on the global database turned out to be.
enum GlobalPlan {
    /// Queries, already answered from the replica.
    Answered(Vec<SqlResult>),
    /// Writes, to propose.
    Writes(Vec<Planned>),
}

fn plan_global(conn: &Connection, text: &str) -> Result<GlobalPlan, Error> {
    let planned = plan(conn, text)?;
    if !all_queries(&planned, true)? {
        rehearse(conn, &planned)?;
        return Ok(GlobalPlan::Writes(planned));
    }
    bounded(conn.get_interrupt_handle(), || {
        planned
            .iter()
            .map(|p| query(conn, &p.sql).map_err(sql_error))
            .collect::<Result<_, _>>()
            .map(GlobalPlan::Answered)
    })
}

/// Runs the writes once on a scratch copy of the replica (a temporary file, dropped after),
/// within [`RUN_LIMIT`]: a write that never ends (an INSERT from an endless recursive WITH)
/// would otherwise be committed to the Raft log and hold every member's database for good.
/// Other errors are left for the real apply to report, on the data as it is then.
fn rehearse(conn: &Connection, planned: &[Planned]) -> Result<(), Error> {
    let mut scratch = Connection::open("").map_err(sql_error)?;
    rusqlite::backup::Backup::new(conn, &mut scratch)
        .and_then(|copy| copy.run_to_completion(i32::MAX, Duration::ZERO, None))
        .map_err(sql_error)?;
    let interrupt = scratch.get_interrupt_handle();
    let tried = bounded(interrupt, || {
        let tx = scratch.transaction().map_err(sql_error)?;
        for p in planned {
            tx.execute(&p.sql, []).map_err(sql_error)?;
        }
        Ok(())
    });
    match tried {
        Err(Error::BadRequest(message)) if message.starts_with(STOPPED) => {
            Err(Error::BadRequest(message))
        }
        _ => Ok(()),
    }
}

/// Queries read the local replica; writes become one Raft entry.
async fn global(node: &Node, text: String) -> Result<Vec<SqlResult>, Error> {
    let planned = match node
        .global
        .read(move |conn| Ok(plan_global(conn, &text)))
        .await??
    {
        GlobalPlan::Answered(results) => return Ok(results),
        GlobalPlan::Writes(planned) => planned,
    };
    let mut batch = Batch::new();
    for p in &planned {
        batch.push(p.sql.clone(), Vec::new());
    }
    match node.propose(batch).await {
        Ok(outcome) => Ok(outcome.rows_affected.into_iter().map(exec_result).collect()),
        // The entry was committed but SQLite refused it on apply: the user's SQL error.
        Err(Error::Conflict(message)) => Err(Error::BadRequest(message)),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE config (id INTEGER PRIMARY KEY, key TEXT UNIQUE, value TEXT);
             INSERT INTO config (key, value) VALUES ('a', '1'), ('b', NULL);",
        )
        .unwrap();
        conn
    }

    #[test]
    fn statements_are_told_apart_by_sqlite() {
        struct Case {
            name: &'static str,
            query: &'static str,
            global: bool,
            /// Ok(all queries) or an error containing the text.
            want: Result<bool, &'static str>,
        }
        let cases = [
            Case {
                name: "one query",
                query: "SELECT * FROM config",
                global: true,
                want: Ok(true),
            },
            Case {
                name: "two queries, a ';' inside a string",
                query: "SELECT 'a;b'; SELECT key FROM config;",
                global: true,
                want: Ok(true),
            },
            Case {
                name: "writes",
                query: "UPDATE config SET value = 'x'; DELETE FROM config WHERE key = 'b'",
                global: true,
                want: Ok(false),
            },
            Case {
                name: "mixed",
                query: "UPDATE config SET value = 'x'; SELECT * FROM config",
                global: true,
                want: Err("mix queries and writes"),
            },
            Case {
                name: "RETURNING on global",
                query: "DELETE FROM config RETURNING key",
                global: true,
                want: Err("RETURNING"),
            },
            Case {
                name: "RETURNING on local is a query",
                query: "DELETE FROM config RETURNING key",
                global: false,
                want: Ok(true),
            },
            Case {
                name: "syntax error",
                query: "SELEC 1",
                global: false,
                want: Err("syntax error"),
            },
            Case {
                name: "unknown table",
                query: "SELECT * FROM nowhere",
                global: false,
                want: Err("no such table: nowhere"),
            },
            Case {
                name: "nothing",
                query: "  ; -- just a comment",
                global: false,
                want: Err("no SQL statement given"),
            },
            Case {
                name: "parameters",
                query: "SELECT * FROM config WHERE key = ?",
                global: false,
                want: Err("parameters"),
            },
        ];
        let conn = db();
        for case in cases {
            let got = plan(&conn, case.query).and_then(|p| all_queries(&p, case.global));
            match (got, case.want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{}", case.name),
                (Err(e), Err(want)) => {
                    assert!(e.to_string().contains(want), "{}: {e}", case.name);
                    assert_eq!(e.http_status(), 400, "{}", case.name);
                }
                (got, want) => panic!("{}: got {got:?}, want {want:?}", case.name),
            }
        }
    }

    #[test]
    fn queries_return_columns_and_values_writes_a_count() {
        let mut conn = db();
        let results = run_on(
            &mut conn,
            "SELECT key, value FROM config ORDER BY key",
            false,
        )
        .unwrap();
        assert_eq!(results[0].columns, ["key", "value"]);
        assert_eq!(
            results[0].rows,
            vec![
                vec![serde_json::json!("a"), serde_json::json!("1")],
                vec![serde_json::json!("b"), serde_json::Value::Null],
            ]
        );
        let results = run_on(
            &mut conn,
            "UPDATE config SET value = 'z'; INSERT INTO config (key) VALUES ('c')",
            false,
        )
        .unwrap();
        let counts: Vec<usize> = results.iter().map(|r| r.rows_affected).collect();
        assert_eq!(counts, [2, 1]);
        // All or nothing: the failing second statement undoes the first.
        let err = run_on(
            &mut conn,
            "UPDATE config SET value = 'q'; INSERT INTO config (key) VALUES ('a')",
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("UNIQUE"), "{err}");
        let left: i64 = conn
            .query_row("SELECT count(*) FROM config WHERE value = 'q'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn values_keep_their_kind_and_binary_is_shown_as_hex() {
        assert_eq!(json_value(ValueRef::Integer(3)), serde_json::json!(3));
        assert_eq!(json_value(ValueRef::Blob(b"{}")), serde_json::json!("{}"));
        assert_eq!(
            json_value(ValueRef::Blob(&[0xff, 0x00])),
            serde_json::json!("x'ff00'")
        );
    }
}

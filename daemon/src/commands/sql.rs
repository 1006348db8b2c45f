//! `corrald sql local|global "QUERY"`: run SQL on this member's database or the cluster's,
//! through the running daemon (so writes to `global` are replicated by Raft), and print
//! the results as `lxd sql` does. See `api::rest::sql` for how statements are run.

use std::io::Read;
use std::time::Duration;

use anyhow::{Context, bail};
use corral_shared::table;
use serde::Deserialize;

/// Which database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Database {
    /// This member's own: Raft log and state, raft_nodes, local config.
    Local,
    /// The cluster's, replicated by Raft: members, config, certificates...
    Global,
}

/// Options of `corrald sql`.
#[derive(clap::Args)]
pub struct Args {
    /// local or global.
    #[arg(value_enum)]
    database: Database,
    /// The query, or `-` to read it from standard input. Several statements may be
    /// separated by `;`; queries and writes go in separate calls.
    query: String,
}

/// One statement's result as the daemon sends it.
#[derive(Debug, Deserialize)]
struct SqlResult {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    columns: Vec<String>,
    #[serde(default)]
    rows: Vec<Vec<serde_json::Value>>,
    #[serde(default)]
    rows_affected: u64,
}

#[derive(Debug, Deserialize)]
struct SqlResults {
    results: Vec<SqlResult>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let query = if args.query == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the query from standard input")?;
        text
    } else {
        args.query
    };
    if query.trim().is_empty() {
        bail!("the query is empty: pass it as an argument, or '-' and the query on standard input");
    }
    let database = match args.database {
        Database::Local => "local",
        Database::Global => "global",
    };
    // A write on a cluster without quorum answers within the daemon's own bound (~10 s).
    let client = super::local_client().with_timeout(Duration::from_secs(30));
    let body = serde_json::json!({ "database": database, "query": query });
    let answer: SqlResults = client
        .request("POST", "/internal/sql", Some(&body), None)
        .await
        .and_then(|r| {
            serde_json::from_value(r.envelope.metadata).map_err(|e| {
                corral_shared::client::ClientError::Protocol(format!("SQL results: {e}"))
            })
        })
        // The message already says what failed and what to do; its source would repeat it.
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    print!("{}", render(&answer.results));
    Ok(())
}

/// A cell as `lxd sql` prints it: NULL as `<nil>`, text as it is.
fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "<nil>".into(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn one(result: &SqlResult) -> String {
    if result.kind == "select" {
        let header: Vec<&str> = result.columns.iter().map(String::as_str).collect();
        let rows: Vec<Vec<String>> = result
            .rows
            .iter()
            .map(|r| r.iter().map(cell).collect())
            .collect();
        table::dense(&header, &rows)
    } else {
        format!("Rows affected: {}\n", result.rows_affected)
    }
}

/// The results: one alone as it is, several each under `=> Query N:` as `lxd sql` does.
fn render(results: &[SqlResult]) -> String {
    if let [only] = results {
        return one(only);
    }
    results
        .iter()
        .enumerate()
        .map(|(i, r)| format!("=> Query {i}:\n\n{}\n", one(r)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_shared::reference::lxd_sample_output;

    fn select(columns: &[&str], rows: serde_json::Value) -> SqlResult {
        SqlResult {
            kind: "select".into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: serde_json::from_value(rows).unwrap(),
            rows_affected: 0,
        }
    }

    #[test]
    fn prints_as_lxd_sql_does() {
        let nodes = select(
            &["id", "name", "failure_domain_id"],
            serde_json::json!([[1, "node1", null]]),
        );
        assert_eq!(
            render(&[nodes]),
            "+----+-------+-------------------+\n| id | name  | failure_domain_id |\n+----+-------+-------------------+\n| 1  | node1 | <nil>             |\n+----+-------+-------------------+\n"
        );
        let groups = select(
            &["id", "name", "description"],
            serde_json::json!([[1, "default", "Default cluster group"]]),
        );
        let members = select(
            &["node_id", "group_id"],
            serde_json::json!([[1, 1], [2, 1], [3, 1]]),
        );
        assert_eq!(
            render(&[groups, members]),
            lxd_sample_output("lxd_sql_global_cluster_groups.txt")
        );
        let write = SqlResult {
            kind: "exec".into(),
            columns: Vec::new(),
            rows: Vec::new(),
            rows_affected: 2,
        };
        assert_eq!(render(&[write]), "Rows affected: 2\n");
    }
}

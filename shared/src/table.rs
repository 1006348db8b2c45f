//! ASCII tables drawn the way `lxc` and `lxd` draw them: boxed with a rule under every
//! row (`boxed`), boxed with rules only around the header and at the end (`dense`, as
//! `lxd sql` prints query results), or borderless (`compact`). Cells may hold several lines.

/// A boxed table: `+---+` rules around the centred header and after every row.
pub fn boxed(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths = widths(header, rows);
    let rule = rule(&widths);
    let mut out = String::new();
    out.push_str(&rule);
    out.push_str(&line(&widths, |i| centre(header[i], widths[i]), "|", "|"));
    out.push_str(&rule);
    for row in rows {
        for n in 0..height(row) {
            out.push_str(&line(
                &widths,
                |i| left(cell_line(row, i, n), widths[i]),
                "|",
                "|",
            ));
        }
        out.push_str(&rule);
    }
    out
}

/// A boxed table whose rows are not set apart: rules above and below the header and
/// after the last row only, as `lxd sql` prints results (an empty result shows two rules).
pub fn dense(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths = widths(header, rows);
    let rule = rule(&widths);
    let mut out = String::new();
    out.push_str(&rule);
    out.push_str(&line(&widths, |i| centre(header[i], widths[i]), "|", "|"));
    out.push_str(&rule);
    for row in rows {
        for n in 0..height(row) {
            out.push_str(&line(
                &widths,
                |i| left(cell_line(row, i, n), widths[i]),
                "|",
                "|",
            ));
        }
    }
    out.push_str(&rule);
    out
}

/// A borderless table: a centred header, then the rows, columns set apart by spaces.
pub fn compact(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths = widths(header, rows);
    let mut out = String::new();
    // lxc's compact layout keeps the outer padding of the boxed one, hence the edge spaces.
    out.push_str(&line(&widths, |i| centre(header[i], widths[i]), "", " "));
    for row in rows {
        for n in 0..height(row) {
            out.push_str(&line(
                &widths,
                |i| left(cell_line(row, i, n), widths[i]),
                "",
                " ",
            ));
        }
    }
    out
}

/// One text line: `first`, each cell padded by a space on both sides and followed by a
/// separator, where the last separator is `last`.
fn line(widths: &[usize], cell: impl Fn(usize) -> String, sep: &str, last: &str) -> String {
    let mut out = String::from(if sep.is_empty() { " " } else { sep });
    for i in 0..widths.len() {
        out.push(' ');
        out.push_str(&cell(i));
        out.push(' ');
        out.push_str(if i + 1 == widths.len() { last } else { sep });
    }
    out.push('\n');
    out
}

fn rule(widths: &[usize]) -> String {
    let mut out = String::from("+");
    for w in widths {
        out.push_str(&"-".repeat(w + 2));
        out.push('+');
    }
    out.push('\n');
    out
}

/// Each column is as wide as its widest header or cell line.
fn widths(header: &[&str], rows: &[Vec<String>]) -> Vec<usize> {
    (0..header.len())
        .map(|i| {
            let cells = rows
                .iter()
                .filter_map(|r| r.get(i))
                .flat_map(|c| c.split('\n'))
                .map(width);
            cells.chain([width(header[i])]).max().unwrap_or(0)
        })
        .collect()
}

/// How many text lines a row needs: as many as its tallest cell.
fn height(row: &[String]) -> usize {
    row.iter().map(|c| c.split('\n').count()).max().unwrap_or(1)
}

fn cell_line(row: &[String], column: usize, n: usize) -> &str {
    row.get(column)
        .and_then(|c| c.split('\n').nth(n))
        .unwrap_or("")
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn left(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

/// Centred as lxc does: an odd gap puts the extra space on the right.
fn centre(s: &str, w: usize) -> String {
    let gap = w.saturating_sub(width(s));
    format!("{}{s}{}", " ".repeat(gap / 2), " ".repeat(gap - gap / 2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::lxd_sample_output;

    fn rows(cells: &[&[&str]]) -> Vec<Vec<String>> {
        cells
            .iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    }

    #[test]
    fn boxed_matches_lxcs_group_list() {
        let sample = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/lxd/lxc_cluster_group_list.txt"
        ))
        .unwrap();
        let expected = sample.strip_suffix("[exit status 0]\n").unwrap();
        let got = boxed(
            &["NAME", "DESCRIPTION", "MEMBERS"],
            &rows(&[&["default", "Default cluster group", "3"]]),
        );
        assert_eq!(got, expected);
    }

    #[test]
    fn boxed_matches_lxds_list_database() {
        let got = boxed(
            &["ADDRESS"],
            &rows(&[
                &["127.0.0.11:8443"],
                &["127.0.0.12:8443"],
                &["127.0.0.13:8443"],
            ]),
        );
        assert_eq!(got, lxd_sample_output("lxd_cluster_list-database.txt"));
    }

    #[test]
    fn dense_matches_lxds_sql_output() {
        let got = dense(
            &["id", "address", "role", "name"],
            &rows(&[
                &["1", "127.0.0.11:8443", "0", "node1"],
                &["2", "127.0.0.12:8443", "0", "node2"],
                &["3", "127.0.0.13:8443", "0", "node3"],
            ]),
        );
        assert_eq!(got, lxd_sample_output("lxd_sql_local_raft_nodes.txt"));
        let empty = dense(&["node_id", "role"], &[]);
        assert_eq!(empty, lxd_sample_output("lxd_sql_global_nodes_roles.txt"));
    }

    #[test]
    fn multi_line_cells_stretch_their_row() {
        let got = boxed(&["A", "B"], &rows(&[&["x\ny", "z"]]));
        assert_eq!(
            got,
            "+---+---+\n| A | B |\n+---+---+\n| x | z |\n| y |   |\n+---+---+\n"
        );
    }

    #[test]
    fn compact_has_no_borders() {
        let got = compact(&["NAME", "STATE"], &rows(&[&["node1", "ONLINE"]]));
        assert_eq!(got, "  NAME   STATE   \n  node1  ONLINE  \n");
    }

    #[test]
    fn empty_tables_show_the_header() {
        assert_eq!(boxed(&["NAME"], &[]), "+------+\n| NAME |\n+------+\n");
    }
}

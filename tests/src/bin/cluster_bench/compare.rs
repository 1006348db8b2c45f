//! `--compare FILE`: this run beside an earlier `cluster-bench --json` output, figure by
//! figure, so the effect of a change is one command. Everything here but [`load`] is a
//! plain function over plain data.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// Changes smaller than this (relative) are reported as within noise rather than better or
/// worse: runs a few minutes apart on a shared two-core machine differ by that much.
pub const NOISE: f64 = 0.05;

/// Which way a figure is good.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Better {
    /// Smaller is better (times, memory, CPU, elections).
    Lower,
    /// Larger is better (rates).
    Higher,
    /// Closer to `goal` is better (a threshold the daemon is meant to honour).
    Near {
        /// The value aimed at.
        goal: f64,
    },
}

/// One figure of one run, as its JSON gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The figure's stable key ("failover").
    pub key: String,
    /// Its name in the table.
    pub name: String,
    /// Its unit.
    pub unit: String,
    /// The median of its samples.
    pub median: f64,
    /// Which way it is good, if the JSON says (outputs before `--compare` existed do not).
    pub better: Option<Better>,
}

/// An earlier run read from a file.
#[derive(Debug, Clone)]
pub struct Earlier {
    /// The file it came from.
    pub path: PathBuf,
    /// Its figures.
    pub entries: Vec<Entry>,
    /// Its `machine` and `settings` objects (Null where absent).
    pub machine: Value,
    pub settings: Value,
}

/// Why an earlier run could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum CompareError {
    /// The file does not exist.
    Missing(PathBuf),
    /// The file exists but cannot be read.
    Unreadable(PathBuf, String),
    /// The file is not JSON.
    NotJson(PathBuf, String),
    /// The file is JSON, but not what `cluster-bench --json` writes.
    NotBench(PathBuf, String),
}

impl fmt::Display for CompareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hint = "--compare takes a file written by `cluster-bench --json > FILE`";
        match self {
            CompareError::Missing(p) => write!(
                f,
                "--compare {}: no such file; write one first with `cluster-bench --json > {}`",
                p.display(),
                p.display()
            ),
            CompareError::Unreadable(p, e) => {
                write!(f, "--compare {}: cannot read it: {e}", p.display())
            }
            CompareError::NotJson(p, e) => {
                write!(f, "--compare {}: not JSON ({e}); {hint}", p.display())
            }
            CompareError::NotBench(p, e) => write!(
                f,
                "--compare {}: not cluster-bench's output: {e}; {hint}",
                p.display()
            ),
        }
    }
}

/// Reads the earlier run in `path`.
pub fn load(path: &Path) -> Result<Earlier, CompareError> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CompareError::Missing(path.to_path_buf()),
        _ => CompareError::Unreadable(path.to_path_buf(), e.to_string()),
    })?;
    parse(path, &text)
}

/// The earlier run in `text`, read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Earlier, CompareError> {
    if text.trim().is_empty() {
        return Err(CompareError::NotJson(
            path.to_path_buf(),
            "the file is empty: did the run that wrote it fail?".into(),
        ));
    }
    let run: Value = serde_json::from_str(text)
        .map_err(|e| CompareError::NotJson(path.to_path_buf(), e.to_string()))?;
    let entries = entries(&run).map_err(|e| CompareError::NotBench(path.to_path_buf(), e))?;
    Ok(Earlier {
        path: path.to_path_buf(),
        entries,
        machine: run["machine"].clone(),
        settings: run["settings"].clone(),
    })
}

/// The figures of a run's JSON, or what is wrong with it.
pub fn entries(run: &Value) -> Result<Vec<Entry>, String> {
    let figures = run
        .get("figures")
        .and_then(Value::as_array)
        .ok_or("it has no \"figures\" list")?;
    figures
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let text = |field: &str| {
                f.get(field)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| format!("figure {} has no text \"{field}\"", i + 1))
            };
            let key = text("key")?;
            let median = f
                .get("median")
                .and_then(Value::as_f64)
                .ok_or_else(|| format!("figure {key:?} has no number \"median\""))?;
            let better = match f.get("better").and_then(Value::as_str) {
                Some("lower") => Some(Better::Lower),
                Some("higher") => Some(Better::Higher),
                Some("near") => f["goal"].as_f64().map(|goal| Better::Near { goal }),
                _ => None,
            };
            Ok(Entry {
                name: text("name")?,
                unit: text("unit")?,
                key,
                median,
                better,
            })
        })
        .collect()
}

/// How a figure moved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Judgement {
    Better,
    Worse,
    /// Moved less than [`NOISE`].
    Within,
    /// No direction is known for this figure.
    Unjudged,
}

/// The change from the earlier value to this run's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// now / earlier; None when earlier is 0.
    pub ratio: Option<f64>,
    /// now - earlier.
    pub difference: f64,
    pub judgement: Judgement,
}

/// One line of the comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub key: String,
    pub name: String,
    pub unit: String,
    /// The earlier median, if the earlier run had this figure.
    pub earlier: Option<f64>,
    /// This run's median, if this run has this figure.
    pub now: Option<f64>,
    /// Set when both sides have it.
    pub change: Option<Change>,
}

/// The change from `earlier` to `now` for a figure that is good in direction `better`.
pub fn change(earlier: f64, now: f64, better: Option<Better>) -> Change {
    let difference = now - earlier;
    let ratio = (earlier != 0.0).then(|| now / earlier);
    let relative = match ratio {
        Some(r) => (r - 1.0).abs(),
        None if difference == 0.0 => 0.0,
        None => f64::INFINITY,
    };
    let judgement = match better {
        None => Judgement::Unjudged,
        Some(_) if relative < NOISE => Judgement::Within,
        Some(b) => {
            let improved = match b {
                Better::Lower => now < earlier,
                Better::Higher => now > earlier,
                Better::Near { goal } => (now - goal).abs() < (earlier - goal).abs(),
            };
            if improved {
                Judgement::Better
            } else {
                Judgement::Worse
            }
        }
    };
    Change {
        ratio,
        difference,
        judgement,
    }
}

/// This run's figures (`now`) beside the earlier ones, in this run's order, then the
/// figures only the earlier run had. A figure's direction is this run's, or the earlier
/// run's when this run does not say.
pub fn compare(earlier: &[Entry], now: &[Entry]) -> Vec<Row> {
    let mut rows: Vec<Row> = now
        .iter()
        .map(|n| {
            let e = earlier.iter().find(|e| e.key == n.key);
            Row {
                key: n.key.clone(),
                name: n.name.clone(),
                unit: n.unit.clone(),
                earlier: e.map(|e| e.median),
                now: Some(n.median),
                change: e.map(|e| change(e.median, n.median, n.better.or(e.better))),
            }
        })
        .collect();
    rows.extend(
        earlier
            .iter()
            .filter(|e| !now.iter().any(|n| n.key == e.key))
            .map(|e| Row {
                key: e.key.clone(),
                name: e.name.clone(),
                unit: e.unit.clone(),
                earlier: Some(e.median),
                now: None,
                change: None,
            }),
    );
    rows
}

/// The settings that differ between the two runs (figures of a quick run and a full run, or
/// of different cluster sizes, do not compare one to one), one line each.
pub fn setting_differences(earlier: &Value, now: &Value) -> Vec<String> {
    let Some(now) = now.as_object() else {
        return Vec::new();
    };
    let mut keys: Vec<&String> = now.keys().collect();
    keys.sort();
    keys.into_iter()
        .filter_map(|k| {
            let before = earlier.get(k)?;
            (before != &now[k]).then(|| format!("{k}: earlier {before}, now {}", now[k]))
        })
        .collect()
}

/// The change in words: a percentage, with the factor when it is 2x or more either way.
pub fn change_text(c: &Change, unit: &str) -> String {
    let moved = match c.ratio {
        Some(r) if r >= 2.0 || (r > 0.0 && r <= 0.5) => {
            format!("{:+.0}% ({r:.2}x)", (r - 1.0) * 100.0)
        }
        Some(r) => format!("{:+.1}%", (r - 1.0) * 100.0),
        None if c.difference == 0.0 => "0%".into(),
        None => format!("{:+} {unit} (from 0)", c.difference),
    };
    let word = match c.judgement {
        Judgement::Better => "better",
        Judgement::Worse => "worse",
        Judgement::Within => "same (within noise)",
        Judgement::Unjudged => "",
    };
    format!("{moved} {word}").trim_end().to_string()
}

/// The comparison as a table; `number` formats a value of a unit.
pub fn table(rows: &[Row], number: impl Fn(f64, &str) -> String) -> String {
    let mut lines = vec![["FIGURE", "EARLIER", "NOW", "CHANGE"].map(String::from)];
    for r in rows {
        let value =
            |v: Option<f64>| v.map_or("-".into(), |v| format!("{} {}", number(v, &r.unit), r.unit));
        let change = match (&r.change, r.earlier, r.now) {
            (Some(c), _, _) => change_text(c, &r.unit),
            (None, None, _) => "only in this run".into(),
            (None, _, None) => "only in the earlier run".into(),
            (None, Some(_), Some(_)) => "-".into(),
        };
        lines.push([r.name.clone(), value(r.earlier), value(r.now), change]);
    }
    super::aligned(&lines)
}

/// The comparison as the `compare` object of the JSON output.
pub fn to_json(earlier: &Earlier, rows: &[Row], notes: &[String]) -> Value {
    let figures: Vec<Value> = rows
        .iter()
        .map(|r| {
            let judgement = r.change.map(|c| match c.judgement {
                Judgement::Better => "better",
                Judgement::Worse => "worse",
                Judgement::Within => "within noise",
                Judgement::Unjudged => "unjudged",
            });
            let only_in = match (r.earlier, r.now) {
                (None, Some(_)) => Some("now"),
                (Some(_), None) => Some("earlier"),
                _ => None,
            };
            json!({
                "key": r.key,
                "name": r.name,
                "unit": r.unit,
                "earlier": r.earlier,
                "now": r.now,
                "ratio": r.change.and_then(|c| c.ratio),
                "change_percent": r.change.and_then(|c| c.ratio).map(|x| (x - 1.0) * 100.0),
                "difference": r.change.map(|c| c.difference),
                "judgement": judgement,
                "only_in": only_in,
            })
        })
        .collect();
    json!({
        "file": earlier.path.display().to_string(),
        "earlier_machine": earlier.machine,
        "setting_differences": notes,
        "noise": NOISE,
        "figures": figures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, median: f64, better: Option<Better>) -> Entry {
        Entry {
            key: key.into(),
            name: format!("figure {key}"),
            unit: "s".into(),
            median,
            better,
        }
    }

    #[test]
    fn a_change_is_judged_by_the_figures_direction() {
        use Better::*;
        use Judgement as J;
        // (earlier, now, better, ratio, judgement)
        let cases = [
            (0.38, 0.25, Some(Lower), Some(0.25 / 0.38), J::Better),
            (0.25, 0.38, Some(Lower), Some(0.38 / 0.25), J::Worse),
            (
                2346.0,
                10000.0,
                Some(Higher),
                Some(10000.0 / 2346.0),
                J::Better,
            ),
            (
                2346.0,
                1878.0,
                Some(Higher),
                Some(1878.0 / 2346.0),
                J::Worse,
            ),
            // Within 5% either way: noise, whatever the direction.
            (100.0, 104.0, Some(Higher), Some(1.04), J::Within),
            (100.0, 96.0, Some(Lower), Some(0.96), J::Within),
            // Near a goal: closer is better, even when the value grows.
            (
                9.0,
                11.5,
                Some(Near { goal: 11.0 }),
                Some(11.5 / 9.0),
                J::Better,
            ),
            (
                11.2,
                14.0,
                Some(Near { goal: 11.0 }),
                Some(14.0 / 11.2),
                J::Worse,
            ),
            // From zero: no ratio; any rise is a change.
            (0.0, 2.0, Some(Lower), None, J::Worse),
            (0.0, 0.0, Some(Lower), None, J::Within),
            (3.0, 0.0, Some(Lower), Some(0.0), J::Better),
            // No direction known: the numbers only.
            (1.0, 2.0, None, Some(2.0), J::Unjudged),
        ];
        for (earlier, now, better, ratio, judgement) in cases {
            let c = change(earlier, now, better);
            assert_eq!(c.ratio, ratio, "{earlier} -> {now}");
            assert_eq!(c.difference, now - earlier, "{earlier} -> {now}");
            assert_eq!(c.judgement, judgement, "{earlier} -> {now} ({better:?})");
        }
    }

    #[test]
    fn figures_on_one_side_only_are_shown_as_such() {
        let earlier = [
            entry("failover", 0.38, Some(Better::Lower)),
            entry("gone", 1.0, Some(Better::Lower)),
        ];
        let now = [
            entry("elections", 0.0, Some(Better::Lower)),
            entry("failover", 0.24, Some(Better::Lower)),
        ];
        let rows = compare(&earlier, &now);
        let keys: Vec<(&str, Option<f64>, Option<f64>, bool)> = rows
            .iter()
            .map(|r| (r.key.as_str(), r.earlier, r.now, r.change.is_some()))
            .collect();
        assert_eq!(
            keys,
            [
                ("elections", None, Some(0.0), false),
                ("failover", Some(0.38), Some(0.24), true),
                ("gone", Some(1.0), None, false),
            ]
        );
        let text = table(&rows, |v, _| format!("{v:.2}"));
        let line = |key: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("figure {key} ")))
                .unwrap_or_else(|| panic!("no line for {key} in\n{text}"))
                .to_string()
        };
        assert!(line("elections").ends_with("only in this run"), "{text}");
        assert!(line("gone").ends_with("only in the earlier run"), "{text}");
        assert!(line("failover").contains("-36.8% better"), "{text}");
    }

    #[test]
    fn the_direction_comes_from_either_side() {
        // An output from before `better` was written: this run's direction judges it.
        let rows = compare(
            &[entry("write1", 312.0, None)],
            &[entry("write1", 1000.0, Some(Better::Higher))],
        );
        assert_eq!(rows[0].change.unwrap().judgement, Judgement::Better);
        let rows = compare(
            &[entry("write1", 312.0, Some(Better::Higher))],
            &[entry("write1", 200.0, None)],
        );
        assert_eq!(rows[0].change.unwrap().judgement, Judgement::Worse);
    }

    #[test]
    fn changes_read_as_percent_and_factor() {
        let cases = [
            ((0.38, 0.25), Some(Better::Lower), "-34.2% better"),
            (
                (2346.0, 10000.0),
                Some(Better::Higher),
                "+326% (4.26x) better",
            ),
            ((100.0, 40.0), Some(Better::Higher), "-60% (0.40x) worse"),
            (
                (100.0, 101.0),
                Some(Better::Higher),
                "+1.0% same (within noise)",
            ),
            ((0.0, 2.0), Some(Better::Lower), "+2 s (from 0) worse"),
            ((1.0, 1.5), None, "+50.0%"),
        ];
        for ((earlier, now), better, want) in cases {
            assert_eq!(change_text(&change(earlier, now, better), "s"), want);
        }
    }

    #[test]
    fn files_that_are_not_a_bench_output_are_named_with_what_is_wrong() {
        let path = Path::new("/tmp/earlier.json");
        // (content, error kind, words the message must hold)
        type IsKind = fn(&CompareError) -> bool;
        let cases: [(&str, IsKind, &str); 6] = [
            ("", |e| matches!(e, CompareError::NotJson(..)), "empty"),
            (
                "figures:",
                |e| matches!(e, CompareError::NotJson(..)),
                "not JSON",
            ),
            (
                "[1, 2]",
                |e| matches!(e, CompareError::NotBench(..)),
                "no \"figures\" list",
            ),
            (
                r#"{"figures": [{"name": "x", "unit": "s", "median": 1}]}"#,
                |e| matches!(e, CompareError::NotBench(..)),
                "figure 1 has no text \"key\"",
            ),
            (
                r#"{"figures": [{"key": "boot", "name": "x", "unit": "s"}]}"#,
                |e| matches!(e, CompareError::NotBench(..)),
                "figure \"boot\" has no number \"median\"",
            ),
            (
                r#"{"figures": [{"key": "boot", "name": "x", "median": "fast"}]}"#,
                |e| matches!(e, CompareError::NotBench(..)),
                "no number \"median\"",
            ),
        ];
        for (text, kind, words) in cases {
            let err = parse(path, text).expect_err(text);
            assert!(kind(&err), "{text}: {err:?}");
            let message = err.to_string();
            assert!(message.contains("/tmp/earlier.json"), "{message}");
            assert!(message.contains(words), "{text}: {message}");
        }
        let missing = load(Path::new("/nonexistent/bench.json")).unwrap_err();
        assert_eq!(
            missing,
            CompareError::Missing("/nonexistent/bench.json".into())
        );
        assert!(
            missing
                .to_string()
                .contains("cluster-bench --json > /nonexistent/bench.json")
        );
    }

    #[test]
    fn a_bench_output_is_read_with_its_directions() {
        let text = r#"{
            "figures": [
                {"key": "failover", "name": "7 kill leader", "unit": "s", "median": 0.38,
                 "better": "lower", "goal": 0.25},
                {"key": "offline", "name": "8 offline", "unit": "s", "median": 9.1,
                 "better": "near", "goal": 11.0, "goal_tolerance": 2.75},
                {"key": "old", "name": "old", "unit": "s", "median": 1}
            ],
            "settings": {"quick": true},
            "machine": {"cores": 2}
        }"#;
        let earlier = parse(Path::new("a.json"), text).unwrap();
        let betters: Vec<Option<Better>> = earlier.entries.iter().map(|e| e.better).collect();
        assert_eq!(
            betters,
            [Some(Better::Lower), Some(Better::Near { goal: 11.0 }), None]
        );
        assert_eq!(earlier.machine["cores"], 2);
    }

    #[test]
    fn differing_settings_are_listed() {
        let earlier = json!({"quick": true, "runs": 2, "members": 7, "old": 1});
        let now = json!({"quick": false, "runs": 2, "members": 50, "clients": 16});
        assert_eq!(
            setting_differences(&earlier, &now),
            [
                "members: earlier 7, now 50".to_string(),
                "quick: earlier true, now false".to_string(),
            ]
        );
        assert!(setting_differences(&Value::Null, &now).is_empty());
    }
}

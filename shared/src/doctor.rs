//! The report of `cluster doctor`: what the daemon found, in plain words, and the commands
//! to run next. `corrald` builds it; `corral cluster doctor` and `corrald cluster doctor`
//! print it the same way.

use serde::{Deserialize, Serialize};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something that is as it should be.
    Ok,
    /// Context that helps decide (who has the newest log, what the daemon could not see).
    Info,
    /// Works now, needs attention soon (a member down with quorum held, clock skew).
    Warning,
    /// The cluster, or part of it, cannot work until this is fixed.
    Problem,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Problem => "PROBLEM",
        }
    }
}

/// One thing the doctor found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// How much it matters.
    pub severity: Severity,
    /// What was found, as a sentence.
    pub text: String,
}

/// The whole diagnosis.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// One line: all is well, or the worst thing found.
    pub summary: String,
    /// Everything found, the worst first.
    pub findings: Vec<Finding>,
    /// The commands to run next, in order, each saying where to run it.
    pub next: Vec<String>,
}

impl Report {
    /// The worst severity found (`Ok` for an empty report).
    pub fn worst(&self) -> Severity {
        self.findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Ok)
    }

    /// The report as the doctor commands print it.
    pub fn render(&self) -> String {
        let mut out = format!("{}\n", self.summary);
        if !self.findings.is_empty() {
            out.push('\n');
        }
        let width = self
            .findings
            .iter()
            .map(|f| f.severity.label().len())
            .max()
            .unwrap_or(0);
        for f in &self.findings {
            out.push_str(&format!(
                "  {:<width$}  {}\n",
                f.severity.label(),
                f.text,
                width = width
            ));
        }
        if !self.next.is_empty() {
            out.push_str("\nWhat to do next:\n");
            for (i, step) in self.next.iter().enumerate() {
                out.push_str(&format!("  {}. {step}\n", i + 1));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_findings_then_numbered_steps() {
        let report = Report {
            summary: "The cluster database has lost quorum.".into(),
            findings: vec![
                Finding {
                    severity: Severity::Problem,
                    text: "node2 is unreachable".into(),
                },
                Finding {
                    severity: Severity::Ok,
                    text: "clocks agree".into(),
                },
            ],
            next: vec!["on node1: corrald shutdown".into()],
        };
        assert_eq!(
            report.render(),
            "The cluster database has lost quorum.\n\n  PROBLEM  node2 is unreachable\n  ok       clocks agree\n\nWhat to do next:\n  1. on node1: corrald shutdown\n"
        );
        assert_eq!(report.worst(), Severity::Problem);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["findings"][0]["severity"], "problem");
    }
}

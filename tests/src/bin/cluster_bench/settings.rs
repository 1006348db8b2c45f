//! cluster-bench's command line: what a run measures and how it prints.

use std::time::Duration;

use super::{compare, instances};

/// The help text.
pub const USAGE: &str = "\
usage: cluster-bench [--quick] [--json] [--runs N] [--members N] [--clients N] [--duration SECS]
                     [--instances N] [--launches N] [--instances-only] [--compare FILE]
                     [--idle-poll]

  --quick          a short run (2 runs, 7 members, 2 s load windows)
  --json           print one JSON object instead of the table
  --runs N         repeat each timing N times (default 5; quick 2)
  --members N      size of the large cluster of figures 11 and 12 (default 50; quick 7)
  --clients N      concurrent writers of figure 6 (default 16)
  --duration SECS  length of each throughput window (default 5; quick 2)
  --instances N    instances listed by figure 14 (default 1000; quick 200), needs root and runc
  --launches N     launches timed one after another by figure 13 (default 20; quick 5)
  --instances-only only figures 13-15 (instances), on their own three-member cluster
  --compare FILE   also show each figure beside its value in FILE, an earlier --json output
                   (with --json, the comparison is the output's \"compare\" object)
  --idle-poll      hold idle CPUs polling instead of halting for the run (root; a diagnosis of
                   the machine's wake-up latency, not a Corral setting)";

/// What a run measures and how it prints, from the command line.
pub struct Settings {
    /// `--quick`: the short run's defaults.
    pub quick: bool,
    /// Print one JSON object instead of the table.
    pub json: bool,
    /// Repeats of each timing.
    pub runs: usize,
    /// Size of the large cluster (figures 11 and 12).
    pub members: usize,
    /// Concurrent writers of figure 6.
    pub clients: usize,
    /// Length of each throughput window.
    pub duration: Duration,
    /// Instances listed by figure 14.
    pub instances: usize,
    /// Launches timed by figure 13.
    pub launches: usize,
    /// Only figures 13-15.
    pub instances_only: bool,
    /// Hold idle CPUs polling for the run.
    pub idle_poll: bool,
    /// An earlier run to show each figure beside.
    pub compare: Option<compare::Earlier>,
}

/// The settings the command line asks for, or what is wrong with it.
pub fn parse_args() -> Result<Settings, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut s = Settings {
        quick,
        json: false,
        runs: if quick { 2 } else { 5 },
        members: if quick { 7 } else { 50 },
        clients: 16,
        duration: Duration::from_secs(if quick { 2 } else { 5 }),
        instances: if quick { 200 } else { 1000 },
        launches: if quick { 5 } else { 20 },
        instances_only: false,
        idle_poll: false,
        compare: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let count = |name: &str, v: String, min: usize| -> Result<usize, String> {
            match v.parse::<usize>() {
                Ok(n) if n >= min => Ok(n),
                _ => Err(format!(
                    "{name} takes a whole number of at least {min}, not {v:?}"
                )),
            }
        };
        match arg.as_str() {
            "--quick" => {}
            "--json" => s.json = true,
            "--instances-only" => s.instances_only = true,
            "--idle-poll" => s.idle_poll = true,
            "--instances" => {
                s.instances = count("--instances", value("--instances")?, instances::EVACUATED)?
            }
            "--compare" => {
                let file = value("--compare")?;
                s.compare =
                    Some(compare::load(std::path::Path::new(&file)).map_err(|e| e.to_string())?);
            }
            "--launches" => s.launches = count("--launches", value("--launches")?, 1)?,
            "--runs" => s.runs = count("--runs", value("--runs")?, 1)?,
            "--members" => s.members = count("--members", value("--members")?, 3)?,
            "--clients" => s.clients = count("--clients", value("--clients")?, 1)?,
            "--duration" => {
                let v = value("--duration")?;
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|d: &f64| *d > 0.0 && d.is_finite())
                    .ok_or_else(|| format!("--duration takes seconds above 0, not {v:?}"))?;
                s.duration = Duration::from_secs_f64(secs);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(s)
}

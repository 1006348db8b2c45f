//! cluster-torture: concurrent clients read, write and compare-and-set registers on a real
//! cluster while a nemesis kills, pauses, partitions, churns and fills a disk; then checks
//! that no acknowledged write was lost and that the history is linearizable.
//!
//! `cargo run --release -p corral-tests --bin cluster-torture -- [--duration S]
//! [--members N] [--clients N] [--seed X] [--faults kill,pause,partition,churn,disk]
//! [--registers N] [--keep DIR] [--json]`; `cluster-torture --check history.jsonl` judges a
//! kept history again. Partitions and the full disk need root; without
//! it they are skipped and the output says so. Exits 1 when it finds anything wrong, keeping
//! the history (JSON lines) and every member's log in the directory it names.

use std::process::ExitCode;
use std::time::Duration;

use corral_tests::torture::nemesis::Fault;
use corral_tests::torture::{Options, run};

const USAGE: &str = "usage: cluster-torture [--duration S] [--members N] [--clients N] [--seed X] \
[--faults kill,pause,partition,churn,disk] [--registers N] [--keep DIR] [--json]";

fn parse(args: &[String]) -> Result<(Options, bool), String> {
    let mut options = Options::default();
    let mut json = false;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--json" {
            json = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_owned());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = |min: u64| -> Result<u64, String> {
            value
                .parse::<u64>()
                .ok()
                .filter(|n| *n >= min)
                .ok_or_else(|| {
                    format!("{flag} {value:?}: must be a whole number of at least {min}")
                })
        };
        match flag.as_str() {
            "--duration" => options.duration = Duration::from_secs(number(1)?),
            "--members" => options.members = number(3)? as usize,
            "--clients" => options.clients = number(1)? as usize,
            "--seed" => options.seed = number(0)?,
            "--registers" => options.registers = number(1)? as usize,
            "--faults" => options.faults = Fault::parse_list(value)?,
            "--keep" => options.keep = Some(value.into()),
            _ => return Err(format!("unknown option {flag:?}\n{USAGE}")),
        }
    }
    Ok((options, json))
}

/// Judges a kept history again: prints each anomaly, or that there is none.
fn check_file(path: &str) -> ExitCode {
    let history = match std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| corral_tests::torture::history::from_json_lines(&t))
    {
        Ok(h) => h,
        Err(e) => {
            eprintln!("cluster-torture: cannot read the history {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let started = std::time::Instant::now();
    let judgement = corral_tests::torture::checker::check(&history);
    println!(
        "{} operations judged in {:.1} s: {} anomalies, {} inconclusive",
        history.len(),
        started.elapsed().as_secs_f64(),
        judgement.anomalies.len(),
        judgement.inconclusive.len()
    );
    for a in &judgement.anomalies {
        println!("register {}:", a.register);
        for op in &a.witness {
            println!("  {}", op.describe());
        }
    }
    if judgement.anomalies.is_empty() && judgement.inconclusive.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, path] = args.as_slice()
        && flag == "--check"
    {
        return check_file(path);
    }
    let (options, json) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("cluster-torture: {e}");
            return ExitCode::from(2);
        }
    };
    let report = run(&options);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("the report serialises")
        );
    } else {
        print!("{}", report.text());
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

//! The machine a run was taken on, so a table of figures says where they come from: the CPU
//! and its cores, the memory, the kernel, and how long a small synchronous disk write takes
//! where the members keep their data (a write's floor: the leader and a follower each wait
//! for one), and how long one thread takes to wake another (every hand-off between a
//! member's threads, and between members, pays it).

use std::io::Write;
use std::time::Instant;

use serde_json::{Value, json};

/// Synchronous appends timed by [`fsync_time`].
pub const FSYNCS: usize = 200;

/// Thread wake-up round trips timed by [`wakeup_time`].
pub const WAKEUPS: usize = 2000;

/// The bytes of each timed append (one page, about a small Raft entry).
const APPEND_BYTES: usize = 4096;

/// What a run was measured on.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// The CPU's model name, as /proc/cpuinfo gives it.
    pub cpu: String,
    /// Logical CPUs.
    pub cores: usize,
    /// Total memory, MiB.
    pub memory_mib: u64,
    /// The kernel release.
    pub kernel: String,
    /// Where the fsync time was measured (the members' temporary directories live there).
    pub fsync_dir: String,
    /// Append 4 KiB + fdatasync, median and 90th percentile, milliseconds.
    pub fsync_p50_ms: f64,
    pub fsync_p90_ms: f64,
    /// One thread waking another and being woken back, median and 90th percentile,
    /// microseconds (None in outputs from before it was recorded).
    pub wakeup_p50_us: Option<f64>,
    pub wakeup_p90_us: Option<f64>,
    /// Whether idle CPUs were held polling instead of halting (`--idle-poll`).
    pub idle_poll: bool,
}

impl Machine {
    /// This machine, its fsync time measured now in the directory the members' data dirs
    /// are made in (the system's temporary directory), and its thread wake-up time.
    pub fn measure(idle_poll: bool) -> Result<Machine, String> {
        let cpuinfo = read("/proc/cpuinfo")?;
        let meminfo = read("/proc/meminfo")?;
        let kernel = read("/proc/sys/kernel/osrelease")?.trim().to_string();
        let (cpu, cores) = cpu_of(&cpuinfo).ok_or("/proc/cpuinfo names no processor")?;
        let memory_mib = memory_mib(&meminfo).ok_or("/proc/meminfo has no MemTotal line")?;
        let dir = tempfile::tempdir()
            .map_err(|e| format!("cannot make a temporary directory to time fsync in: {e}"))?;
        let mut samples = fsync_time(dir.path(), FSYNCS)?;
        samples.sort_by(f64::total_cmp);
        let mut wakeups = wakeup_time(WAKEUPS);
        wakeups.sort_by(f64::total_cmp);
        Ok(Machine {
            cpu,
            cores,
            memory_mib,
            kernel,
            fsync_dir: std::env::temp_dir().display().to_string(),
            fsync_p50_ms: percentile(&samples, 50),
            fsync_p90_ms: percentile(&samples, 90),
            wakeup_p50_us: Some(percentile(&wakeups, 50)),
            wakeup_p90_us: Some(percentile(&wakeups, 90)),
            idle_poll,
        })
    }

    /// One line for the table's heading.
    pub fn line(&self) -> String {
        let mut line = format!(
            "machine: {}, {} cores, {:.1} GiB memory, Linux {}; append {} KiB + fdatasync in {}: \
             p50 {:.3} ms, p90 {:.3} ms ({FSYNCS} times)",
            self.cpu,
            self.cores,
            self.memory_mib as f64 / 1024.0,
            self.kernel,
            APPEND_BYTES / 1024,
            self.fsync_dir,
            self.fsync_p50_ms,
            self.fsync_p90_ms,
        );
        if let (Some(p50), Some(p90)) = (self.wakeup_p50_us, self.wakeup_p90_us) {
            line.push_str(&format!(
                "; thread wake-up round trip across CPUs: p50 {p50:.1} us, p90 {p90:.1} us \
                 ({WAKEUPS} times)"
            ));
        }
        if self.idle_poll {
            line.push_str("; idle CPUs held polling (--idle-poll)");
        }
        line
    }

    /// The `machine` object of the JSON output.
    pub fn to_json(&self) -> Value {
        json!({
            "cpu": self.cpu,
            "cores": self.cores,
            "memory_mib": self.memory_mib,
            "kernel": self.kernel,
            "fsync": {
                "dir": self.fsync_dir,
                "append_bytes": APPEND_BYTES,
                "times": FSYNCS,
                "p50_ms": self.fsync_p50_ms,
                "p90_ms": self.fsync_p90_ms,
            },
            "wakeup": {
                "times": WAKEUPS,
                "p50_us": self.wakeup_p50_us,
                "p90_us": self.wakeup_p90_us,
            },
            "idle_poll": self.idle_poll,
        })
    }

    /// The machine an earlier run's `machine` object describes (None for outputs from
    /// before it was recorded, which only counted cores).
    pub fn from_json(m: &Value) -> Option<Machine> {
        Some(Machine {
            cpu: m["cpu"].as_str()?.to_string(),
            cores: m["cores"].as_u64()? as usize,
            memory_mib: m["memory_mib"].as_u64()?,
            kernel: m["kernel"].as_str()?.to_string(),
            fsync_dir: m["fsync"]["dir"].as_str()?.to_string(),
            fsync_p50_ms: m["fsync"]["p50_ms"].as_f64()?,
            fsync_p90_ms: m["fsync"]["p90_ms"].as_f64()?,
            wakeup_p50_us: m["wakeup"]["p50_us"].as_f64(),
            wakeup_p90_us: m["wakeup"]["p90_us"].as_f64(),
            idle_poll: m["idle_poll"].as_bool().unwrap_or(false),
        })
    }
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

/// The CPU model and the number of logical CPUs listed in `cpuinfo` (the text of
/// /proc/cpuinfo). Processors without a model name (some ARM kernels) are named by their
/// "Hardware" or "CPU part" line, or "unknown CPU".
pub fn cpu_of(cpuinfo: &str) -> Option<(String, usize)> {
    let field = |name: &str| {
        cpuinfo.lines().find_map(|l| {
            let (key, value) = l.split_once(':')?;
            (key.trim() == name).then(|| value.trim().to_string())
        })
    };
    let cores = cpuinfo
        .lines()
        .filter(|l| {
            l.split_once(':')
                .is_some_and(|(k, _)| k.trim() == "processor")
        })
        .count();
    if cores == 0 {
        return None;
    }
    let model = field("model name")
        .or_else(|| field("Hardware"))
        .or_else(|| field("CPU part").map(|p| format!("CPU part {p}")))
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "unknown CPU".into());
    Some((model, cores))
}

/// MemTotal of `meminfo` (the text of /proc/meminfo), in MiB.
pub fn memory_mib(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:"))?;
    let kib: u64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib / 1024)
}

/// The `p`th percentile of `sorted` (nearest rank; 0 for no samples).
pub fn percentile(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// Milliseconds of each of `times` appends of 4 KiB to one file in `dir`, each followed by
/// fdatasync (what a Raft log append costs the disk).
fn fsync_time(dir: &std::path::Path, times: usize) -> Result<Vec<f64>, String> {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let page = [0x5au8; APPEND_BYTES];
    let mut samples = Vec::with_capacity(times);
    for _ in 0..times {
        let t = Instant::now();
        file.write_all(&page)
            .and_then(|_| file.sync_data())
            .map_err(|e| format!("cannot append to and fdatasync {}: {e}", path.display()))?;
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(samples)
}

/// Microseconds of each of `times` round trips between two threads on two different CPUs
/// (where the machine has two): one wakes the other, sleeping, and sleeps until woken back.
/// Pinned apart, as a member's threads and its peers' often are: on one CPU the woken thread
/// simply runs next, and the figure would not show what a hand-off across CPUs costs. On a
/// virtual machine whose idle CPUs halt, that is the hypervisor's wake of the other CPU.
fn wakeup_time(times: usize) -> Vec<f64> {
    let cpus = allowed_cpus();
    let (ping, pinged) = std::sync::mpsc::channel::<()>();
    let (pong, ponged) = std::sync::mpsc::channel::<()>();
    let answer_on = cpus.get(1).copied();
    let answerer = std::thread::spawn(move || {
        if let Some(cpu) = answer_on {
            pin_to(cpu);
        }
        for () in pinged {
            if pong.send(()).is_err() {
                break;
            }
        }
    });
    let ask_on = cpus.first().copied().filter(|_| answer_on.is_some());
    let asker = std::thread::spawn(move || {
        if let Some(cpu) = ask_on {
            pin_to(cpu);
        }
        let mut samples = Vec::with_capacity(times);
        for _ in 0..times {
            let t = Instant::now();
            if ping.send(()).is_err() || ponged.recv().is_err() {
                break;
            }
            samples.push(t.elapsed().as_secs_f64() * 1e6);
        }
        samples
    });
    let samples = asker.join().unwrap_or_default();
    let _ = answerer.join();
    samples
}

/// The CPUs this process may run on.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data, and the kernel writes at most its size into it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect()
    }
}

/// Keeps the calling thread on `cpu` (its own threads only: the bench's members, started
/// from other threads, are not affected).
fn pin_to(cpu: usize) {
    // SAFETY: as above; pid 0 names the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_is_named_and_its_processors_counted() {
        let x86 = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) \
                   Processor\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\n";
        let arm = "processor\t: 0\nBogoMIPS\t: 50.00\nCPU part\t: 0xd0c\n\nprocessor\t: 1\n\
                   CPU part\t: 0xd0c\n\nprocessor\t: 2\n\nprocessor\t: 3\nHardware\t: BCM2835\n";
        let bare = "processor : 0\n";
        let cases: [(&str, Option<(&str, usize)>); 4] = [
            (x86, Some(("Intel(R) Xeon(R) Processor", 2))),
            (arm, Some(("BCM2835", 4))),
            (bare, Some(("unknown CPU", 1))),
            ("", None),
        ];
        for (text, want) in cases {
            let want = want.map(|(m, n)| (m.to_string(), n));
            assert_eq!(cpu_of(text), want, "{text:?}");
        }
    }

    #[test]
    fn memory_is_read_from_memtotal() {
        let cases = [
            (
                "MemTotal:       24683520 kB\nMemFree: 100 kB\n",
                Some(24105),
            ),
            ("MemFree: 100 kB\n", None),
            ("MemTotal: lots\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(memory_mib(text), want, "{text:?}");
        }
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        let cases: [(&[f64], usize, f64); 6] = [
            (&hundred, 50, 50.0),
            (&hundred, 90, 90.0),
            (&hundred, 100, 100.0),
            (&[1.0, 2.0, 3.0], 50, 2.0),
            (&[7.0], 90, 7.0),
            (&[], 50, 0.0),
        ];
        for (samples, p, want) in cases {
            assert_eq!(percentile(samples, p), want, "p{p} of {samples:?}");
        }
    }

    #[test]
    fn a_machine_reads_back_from_its_json() {
        let m = Machine {
            cpu: "Intel(R) Xeon(R) Processor".into(),
            cores: 2,
            memory_mib: 24105,
            kernel: "6.18.44".into(),
            fsync_dir: "/tmp".into(),
            fsync_p50_ms: 0.21,
            fsync_p90_ms: 0.35,
            wakeup_p50_us: Some(81.3),
            wakeup_p90_us: Some(92.5),
            idle_poll: true,
        };
        assert_eq!(Machine::from_json(&m.to_json()), Some(m.clone()));
        assert_eq!(Machine::from_json(&json!({"cores": 2})), None);
        assert_eq!(
            m.line(),
            "machine: Intel(R) Xeon(R) Processor, 2 cores, 23.5 GiB memory, Linux 6.18.44; \
             append 4 KiB + fdatasync in /tmp: p50 0.210 ms, p90 0.350 ms (200 times); \
             thread wake-up round trip across CPUs: p50 81.3 us, p90 92.5 us (2000 times); \
             idle CPUs held polling (--idle-poll)"
        );
        // An output from before the wake-up time was recorded still names its machine.
        let mut older = m.to_json();
        older.as_object_mut().unwrap().remove("wakeup");
        older.as_object_mut().unwrap().remove("idle_poll");
        let read = Machine::from_json(&older).unwrap();
        assert_eq!((read.wakeup_p50_us, read.idle_poll), (None, false));
        assert!(read.line().ends_with("(200 times)"), "{}", read.line());
    }

    #[test]
    fn a_wakeup_is_timed_once_per_round_trip() {
        let before = allowed_cpus();
        let samples = wakeup_time(50);
        assert_eq!(samples.len(), 50);
        assert!(samples.iter().all(|us| *us > 0.0));
        // The threads pinned for it were its own: this one may still run where it could.
        assert!(!before.is_empty());
        assert_eq!(allowed_cpus(), before);
    }

    #[test]
    fn fsync_is_timed_once_per_append() {
        let dir = tempfile::tempdir().unwrap();
        let samples = fsync_time(dir.path(), 5).unwrap();
        assert_eq!(samples.len(), 5);
        assert!(samples.iter().all(|ms| *ms >= 0.0));
        let len = std::fs::metadata(dir.path().join("fsync-probe"))
            .unwrap()
            .len();
        assert_eq!(len, 5 * APPEND_BYTES as u64);
    }
}

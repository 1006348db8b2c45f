//! `--idle-poll`: holds this machine's idle CPUs polling instead of halting while the bench
//! runs, to show how much of a figure is the machine's wake-up latency rather than Corral.
//! It changes nothing in Corral: on a virtual machine whose idle CPUs halt, waking a thread
//! on an idle CPU waits for the hypervisor to wake that CPU, and every hand-off between
//! threads or members pays it; with the CPUs polling, a wake-up is a memory write away.

use std::fs::File;
use std::io::Write;

/// The kernel's CPU wake-up latency request (PM QoS): held while the file is open, dropped
/// when it is closed, even if the bench dies.
const CPU_LATENCY: &str = "/dev/cpu_dma_latency";

/// The request, held for as long as this lives.
pub struct IdlePoll {
    _held: File,
}

impl IdlePoll {
    /// Asks the kernel for a wake-up latency of 0 µs, which keeps idle CPUs in their polling
    /// state. Needs root.
    pub fn hold() -> Result<IdlePoll, String> {
        let mut file = File::options().write(true).open(CPU_LATENCY).map_err(|e| {
            format!(
                "--idle-poll cannot open {CPU_LATENCY}: {e} (it needs root and a kernel with \
                 PM QoS; run without --idle-poll otherwise)"
            )
        })?;
        file.write_all(&0i32.to_ne_bytes())
            .map_err(|e| format!("--idle-poll cannot write to {CPU_LATENCY}: {e}"))?;
        Ok(IdlePoll { _held: file })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    /// The wake-up latency the kernel currently grants, in µs (the lowest held request).
    fn granted_latency_us() -> std::io::Result<i32> {
        let mut value = [0u8; 4];
        File::open(CPU_LATENCY)?.read_exact(&mut value)?;
        Ok(i32::from_ne_bytes(value))
    }

    #[test]
    fn the_request_holds_while_it_lives() {
        // Only root may ask; elsewhere the refusal must say what to do instead.
        let held = match IdlePoll::hold() {
            Ok(held) => held,
            Err(why) => {
                assert!(why.contains("run without --idle-poll"), "{why}");
                return;
            }
        };
        assert_eq!(granted_latency_us().expect("read the granted latency"), 0);
        drop(held);
    }
}

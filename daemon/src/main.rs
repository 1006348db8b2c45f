//! corrald: the Corral daemon, and the local tools that drive it (`init`, `waitready`,
//! `shutdown`), as `lxd` has them. The command line lives in the library
//! ([`corral_daemon::cli`]), so that `corral corrald ...` can run the same.

use std::process::ExitCode;

fn main() -> ExitCode {
    corral_daemon::cli::main_from(std::env::args_os().collect())
}

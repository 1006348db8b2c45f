//! Finding the `corrald` and `corral` binaries that cargo built for this test run.

use std::path::PathBuf;

fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CORRAL_BIN_DIR") {
        return PathBuf::from(dir);
    }
    // Test executables live in target/<profile>/deps, the binaries one level up; a binary
    // of this package (cluster-bench) sits in target/<profile> beside them.
    let exe = std::env::current_exe().expect("the program knows its own path");
    let dir = exe
        .parent()
        .expect("the executable sits in a directory")
        .to_path_buf();
    if dir.join("corrald").exists() {
        return dir;
    }
    dir.parent()
        .map(PathBuf::from)
        .expect("the test executable sits in target/<profile>/deps")
}

fn binary(name: &str) -> PathBuf {
    let path = target_dir().join(name);
    assert!(
        path.exists(),
        "{} was not built; run the tests with `cargo test --workspace` (which builds every binary), \
         or set CORRAL_BIN_DIR to the folder that holds it",
        path.display()
    );
    path
}

/// The daemon binary.
pub fn corrald_bin() -> PathBuf {
    binary("corrald")
}

/// The console binary.
pub fn corral_bin() -> PathBuf {
    binary("corral")
}

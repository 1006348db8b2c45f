// Link flags for the binaries that run the daemon: `corrald`, and `corral` (whose build
// script includes this file) since `corral corrald ...` and `corral demo` run it too.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Pack the binary's relative relocations (DT_RELR: glibc 2.36, binutils 2.38). Unpacked,
    // corrald's 28 000 took 690 KB that the loader reads at every start and that then stayed
    // resident: an idle member's RSS was 1.2 MB larger (cluster-bench figure 10).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

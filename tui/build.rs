//! `corral` runs the daemon too, so it is linked as `corrald` is.
include!("../daemon/build.rs");

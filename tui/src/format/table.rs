//! ASCII tables drawn the way `lxc` draws them; the renderer lives in `corral_shared` so
//! `corrald`'s recovery tools print the same tables.

pub use corral_shared::table::{boxed, compact};

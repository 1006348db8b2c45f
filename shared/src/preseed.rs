//! The preseed: the YAML document `corrald init --preseed` takes, as plain data.
//! (Being written: see the helper brief.)

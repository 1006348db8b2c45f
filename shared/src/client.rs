//! The REST client: LXD's envelope over the daemon's unix socket.
//! (Being written: see the helper brief.)

//! Server configuration keys (`corral config set ...`): their rules, defaults and messages.
//! (Being written: see the helper brief.)

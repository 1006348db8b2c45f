//! The init flow: the guided questions of `corrald init` (as data, over a [`Prompter`],
//! with inquire as the real front end), preseed parsing and validation with line/column
//! errors, and printing the equivalent preseed.

pub mod flow;
pub mod line;
pub mod preseed;
pub mod prompt;
pub mod remote;
pub mod terminal;

pub use flow::{Clock, Environment, Flow, ListenCheck, NOTHING_CHANGED, Outcome};
pub use preseed::{PreseedError, parse_preseed, to_yaml, validate_all};
pub use prompt::{Answer, Prompter, Question, Reply};
pub use remote::{Certificate, Remote, TlsRemote};
pub use terminal::InquirePrompter;

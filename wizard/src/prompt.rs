//! Questions as plain data, and the [`Prompter`] that puts them to a person.
//!
//! The flow never talks to a terminal: it hands a question to a `Prompter` and gets back an
//! answer, a request to go back one question, or a request to stop. The real front end is
//! [`crate::terminal::InquirePrompter`]; tests script the answers.

use std::fmt;
use std::sync::Arc;

/// A check of typed text: `Err` holds what is wrong and what would be accepted.
pub type Check = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// Free text, with an optional default (taken on an empty answer) and check.
#[derive(Clone)]
pub struct Text {
    /// The question.
    pub message: String,
    /// The answer an empty input stands for.
    pub default: Option<String>,
    /// A line of help shown under the question.
    pub help: Option<String>,
    /// Refuses an answer, saying why; the question is then asked again.
    pub check: Option<Check>,
}

/// A yes/no question.
#[derive(Debug, Clone)]
pub struct Confirm {
    /// The question.
    pub message: String,
    /// The answer an empty input stands for.
    pub default: bool,
    /// A line of help shown under the question.
    pub help: Option<String>,
}

/// A secret, never echoed.
#[derive(Clone)]
pub struct Password {
    /// The question.
    pub message: String,
    /// A line of help shown under the question.
    pub help: Option<String>,
    /// Whether to ask a second time and compare (for a new secret).
    pub confirm: bool,
    /// Refuses an answer, saying why.
    pub check: Option<Check>,
}

/// One of a fixed list of options.
#[derive(Debug, Clone)]
pub struct Select {
    /// The question.
    pub message: String,
    /// What may be chosen.
    pub options: Vec<String>,
    /// Index of the option offered first.
    pub default: usize,
    /// A line of help shown under the question.
    pub help: Option<String>,
}

/// Any question of the flow.
#[derive(Clone)]
pub enum Question {
    /// Free text.
    Text(Text),
    /// Yes or no.
    Confirm(Confirm),
    /// A secret.
    Password(Password),
    /// One of a list.
    Select(Select),
}

impl Question {
    /// The question's wording.
    pub fn message(&self) -> &str {
        match self {
            Question::Text(q) => &q.message,
            Question::Confirm(q) => &q.message,
            Question::Password(q) => &q.message,
            Question::Select(q) => &q.message,
        }
    }
}

impl fmt::Debug for Question {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// An answer to a [`Question`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// To text, password and select questions.
    Text(String),
    /// To a yes/no question.
    Bool(bool),
}

/// What a person did with a question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<T> {
    /// Answered it (an answer that passed the question's check).
    Answer(T),
    /// Asked to go back to the previous question (Esc).
    Back,
    /// Asked to stop altogether (Ctrl-C).
    Quit,
    /// The terminal failed; the text says how.
    Failed(String),
}

impl<T> Reply<T> {
    /// The same reply with the answer transformed.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Reply<U> {
        match self {
            Reply::Answer(a) => Reply::Answer(f(a)),
            Reply::Back => Reply::Back,
            Reply::Quit => Reply::Quit,
            Reply::Failed(e) => Reply::Failed(e),
        }
    }
}

/// Puts questions to a person. Implementations apply defaults and checks: an answer they
/// return is one the question accepts.
pub trait Prompter {
    /// Asks for free text.
    fn text(&mut self, q: &Text) -> Reply<String>;
    /// Asks yes or no.
    fn confirm(&mut self, q: &Confirm) -> Reply<bool>;
    /// Asks for a secret without echoing it.
    fn password(&mut self, q: &Password) -> Reply<String>;
    /// Asks to pick one option; returns the option's text.
    fn select(&mut self, q: &Select) -> Reply<String>;
    /// Shows information that needs no answer.
    fn say(&mut self, text: &str);
}

/// Asks any question through a prompter.
pub fn ask(prompter: &mut dyn Prompter, q: &Question) -> Reply<Answer> {
    match q {
        Question::Text(q) => prompter.text(q).map(Answer::Text),
        Question::Confirm(q) => prompter.confirm(q).map(Answer::Bool),
        Question::Password(q) => prompter.password(q).map(Answer::Text),
        Question::Select(q) => prompter.select(q).map(Answer::Text),
    }
}

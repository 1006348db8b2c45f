//! The real front end, on the terminal. Text, password and yes/no questions read keys
//! themselves (see [`crate::line`]) so that Ctrl-U, Ctrl-W and the other shell editing keys
//! edit the line; inquire 0.9 writes them as letters. Lists use inquire's select. Esc goes
//! back one question, Ctrl-C stops.

use std::io::{IsTerminal, Write};

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::style::{Color, Stylize};
use crossterm::{cursor, queue, terminal};
use inquire::error::InquireError;

use crate::flow::yes_no;
use crate::line::{Edit, Line};
use crate::prompt::{Check, Confirm, Password, Prompter, Reply, Select, Text};

/// Asks on the terminal (which needs a TTY).
#[derive(Debug, Default)]
pub struct InquirePrompter;

const NOT_A_TTY: &str = "the questions need a terminal; to configure without one use \
     'corrald init --preseed FILE' (or --auto)";

fn reply<T>(result: Result<T, InquireError>) -> Reply<T> {
    match result {
        Ok(v) => Reply::Answer(v),
        Err(InquireError::OperationCanceled) => Reply::Back,
        Err(InquireError::OperationInterrupted) => Reply::Quit,
        Err(InquireError::NotTTY) => Reply::Failed(NOT_A_TTY.into()),
        Err(e) => Reply::Failed(e.to_string()),
    }
}

const BACK: &str = "Esc: previous question";

/// What a key does at a line question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    /// Edit the line.
    Edit(Edit),
    /// Take the line (Enter, Ctrl-J, Ctrl-M).
    Submit,
    /// Go back one question (Esc).
    Back,
    /// Stop (Ctrl-C, or Ctrl-D on an empty line).
    Quit,
}

/// The meaning of a key at a line question; `None` for keys that do nothing.
pub fn key_action(key: KeyEvent, line_empty: bool) -> Option<KeyAction> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    Some(match key.code {
        KeyCode::Enter => KeyAction::Submit,
        KeyCode::Esc => KeyAction::Back,
        KeyCode::Backspace if alt || ctrl => KeyAction::Edit(Edit::KillWord),
        KeyCode::Backspace => KeyAction::Edit(Edit::Backspace),
        KeyCode::Delete => KeyAction::Edit(Edit::Delete),
        KeyCode::Left => KeyAction::Edit(Edit::Left),
        KeyCode::Right => KeyAction::Edit(Edit::Right),
        KeyCode::Home => KeyAction::Edit(Edit::Home),
        KeyCode::End => KeyAction::Edit(Edit::End),
        KeyCode::Char(c) if ctrl => match c.to_ascii_lowercase() {
            'c' => KeyAction::Quit,
            'd' if line_empty => KeyAction::Quit,
            'd' => KeyAction::Edit(Edit::Delete),
            'j' | 'm' => KeyAction::Submit,
            'u' => KeyAction::Edit(Edit::KillToStart),
            'w' => KeyAction::Edit(Edit::KillWord),
            'k' => KeyAction::Edit(Edit::KillToEnd),
            'a' => KeyAction::Edit(Edit::Home),
            'e' => KeyAction::Edit(Edit::End),
            'b' => KeyAction::Edit(Edit::Left),
            'f' => KeyAction::Edit(Edit::Right),
            'h' => KeyAction::Edit(Edit::Backspace),
            _ => return None,
        },
        KeyCode::Char(_) if alt => return None,
        KeyCode::Char(c) => KeyAction::Edit(Edit::Insert(c)),
        _ => return None,
    })
}

/// One line question on the terminal: the prompt line (which may wrap) and, under it, the
/// help or the reason the last answer was refused.
struct LinePrompt {
    /// The question with its hint, as shown before the typed text.
    head: String,
    /// Whether to show the typed text (not for secrets).
    echo: bool,
    help: String,
    /// Rows from the prompt's first row to the cursor's, as last drawn.
    cursor_row: u16,
}

/// Characters on screen (the texts shown are plain, without escape sequences).
fn width_of(text: &str) -> usize {
    text.chars().count()
}

impl LinePrompt {
    fn new(message: &str, hint: &str, help: &str, echo: bool) -> Self {
        let head = if hint.is_empty() {
            format!("? {message} ")
        } else {
            format!("? {message} {hint} ")
        };
        Self {
            head,
            echo,
            help: help.to_owned(),
            cursor_row: 0,
        }
    }

    fn draw(
        &mut self,
        out: &mut impl Write,
        line: &Line,
        error: Option<&str>,
    ) -> std::io::Result<()> {
        let width = terminal::size().map_or(80, |(w, _)| w.max(1)) as usize;
        let shown = if self.echo {
            line.text()
        } else {
            String::new()
        };
        let cursor = if self.echo { line.cursor() } else { 0 };
        if self.cursor_row > 0 {
            queue!(out, cursor::MoveUp(self.cursor_row))?;
        }
        queue!(
            out,
            cursor::MoveToColumn(0),
            terminal::Clear(terminal::ClearType::FromCursorDown)
        )?;
        write!(out, "{}{}", self.head.as_str().bold(), shown)?;
        let line_len = width_of(&self.head) + width_of(&shown);
        let line_rows = line_len.div_ceil(width).max(1);
        let below = match error {
            Some(e) => format!("{}", e.with(Color::Red)),
            None => format!("{}", format!("[{}]", self.help).with(Color::DarkGrey)),
        };
        let below_len = error.map_or(width_of(&self.help) + 2, width_of);
        write!(out, "\r\n{below}")?;
        let end_row = line_rows + below_len.saturating_sub(1) / width;
        let target = width_of(&self.head) + cursor;
        let (mut row, mut col) = (target / width, target % width);
        if row >= line_rows {
            (row, col) = (line_rows - 1, width - 1);
        }
        queue!(
            out,
            cursor::MoveUp((end_row - row) as u16),
            cursor::MoveToColumn(col as u16)
        )?;
        self.cursor_row = row as u16;
        out.flush()
    }

    /// Replaces the question with its final answer.
    fn done(&mut self, out: &mut impl Write, answer: &str) -> std::io::Result<()> {
        if self.cursor_row > 0 {
            queue!(out, cursor::MoveUp(self.cursor_row))?;
        }
        queue!(
            out,
            cursor::MoveToColumn(0),
            terminal::Clear(terminal::ClearType::FromCursorDown)
        )?;
        write!(
            out,
            "{}{}\r\n",
            self.head.as_str().bold(),
            answer.with(Color::Cyan)
        )?;
        self.cursor_row = 0;
        out.flush()
    }

    /// Reads keys until the line is taken (`submit` says whether it is, or why not), or Esc
    /// or Ctrl-C.
    fn read(&mut self, mut submit: impl FnMut(&str) -> Result<String, String>) -> Reply<String> {
        if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
            return Reply::Failed(NOT_A_TTY.into());
        }
        if let Err(e) = terminal::enable_raw_mode() {
            return Reply::Failed(format!("cannot read keys from the terminal: {e}"));
        }
        let result = self.keys(&mut submit);
        let _ = terminal::disable_raw_mode();
        result.unwrap_or_else(|e| Reply::Failed(format!("the terminal failed: {e}")))
    }

    fn keys(
        &mut self,
        submit: &mut impl FnMut(&str) -> Result<String, String>,
    ) -> std::io::Result<Reply<String>> {
        let mut out = std::io::stderr();
        let mut line = Line::default();
        let mut error: Option<String> = None;
        self.draw(&mut out, &line, None)?;
        loop {
            let Event::Key(key) = event::read()? else {
                continue;
            };
            if key.kind == KeyEventKind::Release {
                continue;
            }
            match key_action(key, line.text().is_empty()) {
                Some(KeyAction::Edit(edit)) => line.apply(edit),
                Some(KeyAction::Submit) => match submit(&line.text()) {
                    Ok(shown) => {
                        self.done(&mut out, &shown)?;
                        return Ok(Reply::Answer(line.text()));
                    }
                    Err(why) => {
                        error = Some(why);
                        self.draw(&mut out, &line, error.as_deref())?;
                        continue;
                    }
                },
                Some(KeyAction::Back) => {
                    self.done(&mut out, "")?;
                    return Ok(Reply::Back);
                }
                Some(KeyAction::Quit) => {
                    self.done(&mut out, "")?;
                    return Ok(Reply::Quit);
                }
                None => continue,
            }
            self.draw(&mut out, &line, error.as_deref())?;
        }
    }
}

fn with_back(help: Option<&str>, otherwise: &str) -> String {
    match help {
        Some(h) => format!("{h} ({BACK})"),
        None if otherwise.is_empty() => BACK.to_owned(),
        None => format!("{otherwise} ({BACK})"),
    }
}

/// Runs a check on typed text, as the question's answer would be taken.
fn checked(check: &Option<Check>, text: &str) -> Result<(), String> {
    match check {
        Some(check) => check(text.trim()),
        None => Ok(()),
    }
}

impl Prompter for InquirePrompter {
    fn text(&mut self, q: &Text) -> Reply<String> {
        let default = q.default.clone().unwrap_or_default();
        let hint = if default.is_empty() {
            String::new()
        } else {
            format!("({default})")
        };
        let help = with_back(q.help.as_deref(), "");
        let mut prompt = LinePrompt::new(&q.message, &hint, &help, true);
        // An empty line stands for the default, which is checked like a typed answer.
        let take = |typed: &str| -> String {
            if typed.trim().is_empty() {
                default.clone()
            } else {
                typed.trim().to_owned()
            }
        };
        prompt
            .read(|typed| {
                let answer = take(typed);
                checked(&q.check, &answer).map(|()| answer)
            })
            .map(|typed| take(&typed))
    }

    fn confirm(&mut self, q: &Confirm) -> Reply<bool> {
        let hint = if q.default { "(Y/n)" } else { "(y/N)" };
        let help = with_back(q.help.as_deref(), "yes or no");
        let mut prompt = LinePrompt::new(&q.message, hint, &help, true);
        let decide = |typed: &str| {
            if typed.trim().is_empty() {
                Some(q.default)
            } else {
                yes_no(typed)
            }
        };
        let reply = prompt.read(|typed| match decide(typed) {
            Some(true) => Ok("Yes".into()),
            Some(false) => Ok("No".into()),
            None => Err("Invalid input: answer yes or no".into()),
        });
        match reply {
            Reply::Answer(typed) => Reply::Answer(decide(&typed).unwrap_or(q.default)),
            Reply::Back => Reply::Back,
            Reply::Quit => Reply::Quit,
            Reply::Failed(e) => Reply::Failed(e),
        }
    }

    fn password(&mut self, q: &Password) -> Reply<String> {
        let help = with_back(q.help.as_deref(), "");
        let mut mismatch = false;
        loop {
            let mut first = LinePrompt::new(&q.message, "", &help, false);
            if mismatch {
                first.help = format!("The two entries differ; type it again. ({BACK})");
            }
            let secret = match first.read(|typed| checked(&q.check, typed).map(|()| String::new()))
            {
                Reply::Answer(s) => s,
                other => return other,
            };
            if !q.confirm {
                return Reply::Answer(secret);
            }
            let mut again = LinePrompt::new("Again:", "", &help, false);
            match again.read(|_| Ok(String::new())) {
                Reply::Answer(s) if s == secret => return Reply::Answer(secret),
                Reply::Answer(_) => mismatch = true,
                // Esc at the confirmation goes back to the first entry.
                Reply::Back => mismatch = false,
                other => return other,
            }
        }
    }

    fn select(&mut self, q: &Select) -> Reply<String> {
        let help = match &q.help {
            Some(h) => format!("{h} (arrows to move, type to filter, {BACK})"),
            None => format!("arrows to move, type to filter, {BACK}"),
        };
        reply(
            inquire::Select::new(&q.message, q.options.clone())
                .with_starting_cursor(q.default.min(q.options.len().saturating_sub(1)))
                .with_help_message(&help)
                .prompt(),
        )
    }

    fn say(&mut self, text: &str) {
        println!("{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn shell_editing_keys_edit_the_line() {
        let ctrl = KeyModifiers::CONTROL;
        let none = KeyModifiers::NONE;
        let cases = [
            (
                key(KeyCode::Char('u'), ctrl),
                false,
                Some(KeyAction::Edit(Edit::KillToStart)),
            ),
            (
                key(KeyCode::Char('w'), ctrl),
                false,
                Some(KeyAction::Edit(Edit::KillWord)),
            ),
            (
                key(KeyCode::Char('k'), ctrl),
                false,
                Some(KeyAction::Edit(Edit::KillToEnd)),
            ),
            (
                key(KeyCode::Char('a'), ctrl),
                false,
                Some(KeyAction::Edit(Edit::Home)),
            ),
            (
                key(KeyCode::Char('e'), ctrl),
                false,
                Some(KeyAction::Edit(Edit::End)),
            ),
            (
                key(KeyCode::Char('h'), ctrl),
                false,
                Some(KeyAction::Edit(Edit::Backspace)),
            ),
            (
                key(KeyCode::Char('u'), none),
                false,
                Some(KeyAction::Edit(Edit::Insert('u'))),
            ),
            (
                key(KeyCode::Char('U'), KeyModifiers::SHIFT),
                false,
                Some(KeyAction::Edit(Edit::Insert('U'))),
            ),
            (
                key(KeyCode::Backspace, KeyModifiers::ALT),
                false,
                Some(KeyAction::Edit(Edit::KillWord)),
            ),
            (key(KeyCode::Char('c'), ctrl), false, Some(KeyAction::Quit)),
            (key(KeyCode::Char('d'), ctrl), true, Some(KeyAction::Quit)),
            (
                key(KeyCode::Char('d'), ctrl),
                false,
                Some(KeyAction::Edit(Edit::Delete)),
            ),
            (key(KeyCode::Esc, none), false, Some(KeyAction::Back)),
            (key(KeyCode::Enter, none), false, Some(KeyAction::Submit)),
            (key(KeyCode::Char('x'), KeyModifiers::ALT), false, None),
            (key(KeyCode::Char('z'), ctrl), false, None),
            (key(KeyCode::Tab, none), false, None),
        ];
        for (k, empty, want) in cases {
            assert_eq!(key_action(k, empty), want, "{k:?}");
        }
    }
}

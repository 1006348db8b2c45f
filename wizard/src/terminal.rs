//! The real front end: inquire on the terminal. Esc goes back one question, Ctrl-C stops.

use inquire::error::InquireError;
use inquire::validator::Validation;

use crate::prompt::{Check, Confirm, Password, Prompter, Reply, Select, Text};

/// Asks on the terminal with inquire (which needs a TTY).
#[derive(Debug, Default)]
pub struct InquirePrompter;

fn reply<T>(result: Result<T, InquireError>) -> Reply<T> {
    match result {
        Ok(v) => Reply::Answer(v),
        Err(InquireError::OperationCanceled) => Reply::Back,
        Err(InquireError::OperationInterrupted) => Reply::Quit,
        Err(InquireError::NotTTY) => Reply::Failed(
            "the questions need a terminal; to configure without one use 'corrald init --preseed FILE' \
             (or --auto)"
                .into(),
        ),
        Err(e) => Reply::Failed(e.to_string()),
    }
}

fn validator(
    check: Check,
) -> impl Fn(&str) -> Result<Validation, inquire::CustomUserError> + Clone {
    move |input: &str| {
        Ok(match check(input.trim()) {
            Ok(()) => Validation::Valid,
            Err(e) => Validation::Invalid(e.into()),
        })
    }
}

const BACK: &str = "Esc: previous question";

impl Prompter for InquirePrompter {
    fn text(&mut self, q: &Text) -> Reply<String> {
        let help = match &q.help {
            Some(h) => format!("{h} ({BACK})"),
            None => BACK.to_owned(),
        };
        let mut prompt = inquire::Text::new(&q.message).with_help_message(&help);
        if let Some(default) = q.default.as_deref().filter(|d| !d.is_empty()) {
            prompt = prompt.with_default(default);
        }
        if let Some(check) = &q.check {
            // inquire puts the default in place of an empty input before validating.
            prompt = prompt.with_validator(validator(check.clone()));
        }
        reply(prompt.prompt()).map(|t| {
            if t.is_empty() {
                q.default.clone().unwrap_or_default()
            } else {
                t.trim().to_owned()
            }
        })
    }

    fn confirm(&mut self, q: &Confirm) -> Reply<bool> {
        let help = match &q.help {
            Some(h) => format!("{h} ({BACK})"),
            None => format!("yes or no ({BACK})"),
        };
        reply(
            inquire::Confirm::new(&q.message)
                .with_default(q.default)
                .with_help_message(&help)
                .with_error_message("Invalid input: answer yes or no")
                .prompt(),
        )
    }

    fn password(&mut self, q: &Password) -> Reply<String> {
        let help = match &q.help {
            Some(h) => format!("{h} ({BACK})"),
            None => BACK.to_owned(),
        };
        let mut prompt = inquire::Password::new(&q.message)
            .with_help_message(&help)
            .with_display_mode(inquire::PasswordDisplayMode::Hidden);
        if q.confirm {
            prompt = prompt
                .with_custom_confirmation_message("Again:")
                .with_custom_confirmation_error_message("The two entries differ; type it again.");
        } else {
            prompt = prompt.without_confirmation();
        }
        if let Some(check) = &q.check {
            prompt = prompt.with_validator(validator(check.clone()));
        }
        reply(prompt.prompt())
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

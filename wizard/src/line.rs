//! The line being typed at a question, edited as a shell edits it: Ctrl-U, Ctrl-W and
//! Ctrl-K kill, Ctrl-A/Ctrl-E and the arrows move. Pure: the terminal turns keys into
//! [`Edit`]s ([`crate::terminal`]) and draws the result.

/// One editing key, after the terminal decoded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Insert a character at the cursor.
    Insert(char),
    /// Delete the character before the cursor (Backspace, Ctrl-H).
    Backspace,
    /// Delete the character under the cursor (Delete).
    Delete,
    /// Move one character left (Left, Ctrl-B).
    Left,
    /// Move one character right (Right, Ctrl-F).
    Right,
    /// Move to the start (Home, Ctrl-A).
    Home,
    /// Move to the end (End, Ctrl-E).
    End,
    /// Delete from the start to the cursor (Ctrl-U).
    KillToStart,
    /// Delete from the cursor to the end (Ctrl-K).
    KillToEnd,
    /// Delete the word before the cursor, and the spaces after it (Ctrl-W).
    KillWord,
}

/// The text typed so far and where the cursor is (in characters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    chars: Vec<char>,
    cursor: usize,
}

impl Line {
    /// The text.
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// The cursor's position, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Applies one edit.
    pub fn apply(&mut self, edit: Edit) {
        match edit {
            Edit::Insert(c) => {
                self.chars.insert(self.cursor, c);
                self.cursor += 1;
            }
            Edit::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                self.chars.remove(self.cursor);
            }
            Edit::Delete if self.cursor < self.chars.len() => {
                self.chars.remove(self.cursor);
            }
            Edit::Backspace | Edit::Delete => {}
            Edit::Left => self.cursor = self.cursor.saturating_sub(1),
            Edit::Right => self.cursor = (self.cursor + 1).min(self.chars.len()),
            Edit::Home => self.cursor = 0,
            Edit::End => self.cursor = self.chars.len(),
            Edit::KillToStart => {
                self.chars.drain(..self.cursor);
                self.cursor = 0;
            }
            Edit::KillToEnd => self.chars.truncate(self.cursor),
            Edit::KillWord => {
                // As readline's unix-word-rubout: spaces before the cursor, then the word.
                let mut start = self.cursor;
                while start > 0 && self.chars[start - 1].is_whitespace() {
                    start -= 1;
                }
                while start > 0 && !self.chars[start - 1].is_whitespace() {
                    start -= 1;
                }
                self.chars.drain(start..self.cursor);
                self.cursor = start;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Types `text`, then applies `edits`.
    fn typed(text: &str, edits: &[Edit]) -> Line {
        let mut line = Line::default();
        for c in text.chars() {
            line.apply(Edit::Insert(c));
        }
        for e in edits {
            line.apply(*e);
        }
        line
    }

    #[test]
    fn edits_work_as_in_a_shell() {
        use Edit::*;
        let cases: &[(&str, &[Edit], &str, usize)] = &[
            ("10.0.0.1", &[KillToStart], "", 0),
            ("node7 typo", &[KillWord], "node7 ", 6),
            ("node7 typo  ", &[KillWord], "node7 ", 6),
            ("a b c", &[KillWord, KillWord], "a ", 2),
            ("one", &[KillWord, KillWord], "", 0),
            ("abcdef", &[Left, Left, KillToStart], "ef", 0),
            ("abcdef", &[Left, Left, KillToEnd], "abcd", 4),
            ("abcdef", &[Home, Delete, End, Backspace], "bcde", 4),
            ("ac", &[Left, Insert('b')], "abc", 2),
            ("x", &[Backspace, Backspace, Left, Delete], "", 0),
            ("ab", &[Right, Right, Home, Left], "ab", 0),
            ("ab cd", &[Left, Left, KillWord], "cd", 0),
            ("héllo wörld", &[KillWord], "héllo ", 6),
        ];
        for (text, edits, want, cursor) in cases {
            let line = typed(text, edits);
            assert_eq!(
                (line.text().as_str(), line.cursor()),
                (*want, *cursor),
                "{text:?} {edits:?}"
            );
        }
    }
}

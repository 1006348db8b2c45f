//! Styles, in colour or (under `NO_COLOR`) with no colour at all: only bold and reverse
//! video, which every terminal has and which carry no colour.

use corral_shared::api::MemberStatus;
use ratatui::style::{Color, Modifier, Style};

use super::app::LogKind;

/// The palette, or its absence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Whether colours may be used.
    pub color: bool,
}

impl Theme {
    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    /// A member's status.
    pub fn status(self, status: MemberStatus) -> Style {
        match status {
            MemberStatus::Online => self.fg(Color::Green),
            MemberStatus::Offline => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            MemberStatus::Evacuated => self.fg(Color::Yellow),
            MemberStatus::Blocked => self.fg(Color::Magenta).add_modifier(Modifier::BOLD),
        }
    }

    /// A log line's mark.
    pub fn log(self, kind: LogKind) -> Style {
        match kind {
            LogKind::Info => Style::new(),
            LogKind::Good => self.good(),
            LogKind::Warn => self.fg(Color::Yellow),
            LogKind::Bad => self.bad(),
        }
    }

    /// Success.
    pub fn good(self) -> Style {
        self.fg(Color::Green)
    }

    /// Failure.
    pub fn bad(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// Secondary text (times, hints).
    pub fn dim(self) -> Style {
        self.fg(Color::DarkGray)
    }

    /// Data that is not live: faded, whatever its own colour was.
    pub fn stale(self) -> Style {
        self.fg(Color::DarkGray).add_modifier(Modifier::DIM)
    }

    /// Worth a look, not yet a failure.
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// A focused pane's title: marked in words too (`▶`), and in reverse video.
    pub fn focused_title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
    }

    /// Keys in hints and help.
    pub fn key(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// Headings.
    pub fn heading(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// The selected row.
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// The disconnected banner.
    pub fn banner(self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    /// A pane's border: marked when it has the keys.
    pub fn border(self, focused: bool) -> Style {
        match (focused, self.color) {
            (true, true) => Style::new().fg(Color::Cyan),
            (true, false) => Style::new().add_modifier(Modifier::BOLD),
            (false, _) => self.dim(),
        }
    }
}

//! Key bindings as data: the table `update` looks keys up in, and the help overlay lists.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for in the main screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    /// Selection (or the focused pane's scroll) one up.
    Up,
    /// One down.
    Down,
    /// To the first.
    Top,
    /// To the last.
    Bottom,
    /// Focus the next pane.
    NextPane,
    /// Focus the previous pane.
    PrevPane,
    /// Open the selected member's detail (focus it); from the detail, back to the table.
    Open,
    /// Switch between the members table and the failure-domain view.
    ToggleView,
    /// Edit the filter.
    Filter,
    /// Open the `:` prompt.
    Prompt,
    /// Prompt for a join token's member name.
    NewToken,
    /// Remove the selected member.
    Remove,
    /// Force-remove the selected member.
    ForceRemove,
    /// Add or remove the event-hub role on the selected member.
    ToggleEventHub,
    /// Add or remove the ovn-chassis role on the selected member.
    ToggleOvnChassis,
    /// Prompt for the selected member's failure domain.
    SetDomain,
    /// Prompt for a cluster setting.
    SetConfig,
    /// Show the help overlay.
    Help,
    /// Go back: close, clear the filter, drop a message.
    Back,
    /// Leave the dashboard.
    Quit,
}

/// A key: its code and the modifiers that must be held (Shift is ignored for characters,
/// whose case already says it).
pub type Key = (KeyCode, KeyModifiers);

const NONE: KeyModifiers = KeyModifiers::NONE;

/// One line of the binding table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// The keys that trigger it.
    pub keys: &'static [Key],
    /// How the help overlay writes those keys.
    pub label: &'static str,
    /// What it does, for the help overlay.
    pub help: &'static str,
    /// The action.
    pub action: KeyAction,
}

/// Every key of the main screen, in the order the help overlay lists them.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[(KeyCode::Up, NONE), (KeyCode::Char('k'), NONE)],
        label: "↑ k",
        help: "move up",
        action: KeyAction::Up,
    },
    Binding {
        keys: &[(KeyCode::Down, NONE), (KeyCode::Char('j'), NONE)],
        label: "↓ j",
        help: "move down",
        action: KeyAction::Down,
    },
    Binding {
        keys: &[(KeyCode::Home, NONE), (KeyCode::Char('g'), NONE)],
        label: "g Home",
        help: "first",
        action: KeyAction::Top,
    },
    Binding {
        keys: &[(KeyCode::End, NONE), (KeyCode::Char('G'), NONE)],
        label: "G End",
        help: "last",
        action: KeyAction::Bottom,
    },
    Binding {
        keys: &[(KeyCode::Tab, NONE)],
        label: "Tab",
        help: "next pane",
        action: KeyAction::NextPane,
    },
    Binding {
        keys: &[
            (KeyCode::BackTab, NONE),
            (KeyCode::BackTab, KeyModifiers::SHIFT),
        ],
        label: "S-Tab",
        help: "previous pane",
        action: KeyAction::PrevPane,
    },
    Binding {
        keys: &[(KeyCode::Enter, NONE)],
        label: "Enter",
        help: "open the member's detail",
        action: KeyAction::Open,
    },
    Binding {
        keys: &[(KeyCode::Char('v'), NONE)],
        label: "v",
        help: "members / failure domains",
        action: KeyAction::ToggleView,
    },
    Binding {
        keys: &[(KeyCode::Char('/'), NONE)],
        label: "/",
        help: "filter members",
        action: KeyAction::Filter,
    },
    Binding {
        keys: &[(KeyCode::Char(':'), NONE)],
        label: ":",
        help: "command prompt",
        action: KeyAction::Prompt,
    },
    Binding {
        keys: &[(KeyCode::Char('a'), NONE)],
        label: "a",
        help: "join token for a new member",
        action: KeyAction::NewToken,
    },
    Binding {
        keys: &[(KeyCode::Char('x'), NONE)],
        label: "x",
        help: "remove selected member",
        action: KeyAction::Remove,
    },
    Binding {
        keys: &[(KeyCode::Char('X'), NONE)],
        label: "X",
        help: "force-remove selected member",
        action: KeyAction::ForceRemove,
    },
    Binding {
        keys: &[(KeyCode::Char('e'), NONE)],
        label: "e",
        help: "add/remove event-hub role",
        action: KeyAction::ToggleEventHub,
    },
    Binding {
        keys: &[(KeyCode::Char('o'), NONE)],
        label: "o",
        help: "add/remove ovn-chassis role",
        action: KeyAction::ToggleOvnChassis,
    },
    Binding {
        keys: &[(KeyCode::Char('f'), NONE)],
        label: "f",
        help: "set failure domain",
        action: KeyAction::SetDomain,
    },
    Binding {
        keys: &[(KeyCode::Char('c'), NONE)],
        label: "c",
        help: "change a cluster setting",
        action: KeyAction::SetConfig,
    },
    Binding {
        keys: &[(KeyCode::Char('?'), NONE), (KeyCode::F(1), NONE)],
        label: "? F1",
        help: "this help",
        action: KeyAction::Help,
    },
    Binding {
        keys: &[(KeyCode::Esc, NONE)],
        label: "Esc",
        help: "back, close, clear filter",
        action: KeyAction::Back,
    },
    Binding {
        keys: &[
            (KeyCode::Char('q'), NONE),
            (KeyCode::Char('c'), KeyModifiers::CONTROL),
        ],
        label: "q C-c",
        help: "quit",
        action: KeyAction::Quit,
    },
];

/// The `:` commands, as the help overlay lists them: usage and meaning.
pub const COMMANDS: &[(&str, &str)] = &[
    (":add NAME", "join token for NAME"),
    (":remove [-f] NAME", "remove (-f: force)"),
    (":role add|rm NAME ROLE", ""),
    ("", "ROLE: event-hub or ovn-chassis"),
    (":domain NAME DOMAIN", "failure domain"),
    (":set KEY VALUE", "cluster.max_voters,"),
    ("", "max_standby, offline_threshold"),
    (":view members|domains", ""),
    (":filter TEXT", "filter members"),
    (":evacuate|restore NAME", "plan first"),
    (":q", "quit"),
];

/// Mouse use, for the help overlay.
pub const MOUSE: &[(&str, &str)] = &[
    ("click", "select a row, focus a pane"),
    ("wheel", "move or scroll"),
];

/// The action bound to `key`, if any.
pub fn lookup(key: &KeyEvent) -> Option<KeyAction> {
    let modifiers = match key.code {
        KeyCode::Char(_) => key.modifiers - KeyModifiers::SHIFT,
        _ => key.modifiers,
    };
    BINDINGS
        .iter()
        .find(|b| b.keys.contains(&(key.code, modifiers)))
        .map(|b| b.action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn keys_find_their_action() {
        assert_eq!(
            lookup(&key(KeyCode::Char('j'), NONE)),
            Some(KeyAction::Down)
        );
        assert_eq!(lookup(&key(KeyCode::Down, NONE)), Some(KeyAction::Down));
        // Terminals report capitals with Shift held.
        assert_eq!(
            lookup(&key(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(KeyAction::Bottom)
        );
        assert_eq!(
            lookup(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(KeyAction::Quit)
        );
        assert_eq!(
            lookup(&key(KeyCode::Char('c'), NONE)),
            Some(KeyAction::SetConfig)
        );
        assert_eq!(lookup(&key(KeyCode::Char('z'), NONE)), None);
    }

    #[test]
    fn no_key_is_bound_twice() {
        let mut seen = Vec::new();
        for binding in BINDINGS {
            for k in binding.keys {
                assert!(!seen.contains(k), "{k:?} is bound twice");
                seen.push(*k);
            }
        }
    }
}

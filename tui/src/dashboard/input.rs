//! Keys and the mouse: what each does to the [`App`] in each mode.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::action::Action;
use super::app::{App, Command, Mode, Notice, Pane, Row, View};
use super::keys::{self, KeyAction};
use super::prompt::{self, Parsed};
use super::view;
use corral_shared::api::Role;

pub(super) fn on_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        return vec![Command::Quit];
    }
    match app.mode.clone() {
        Mode::Normal => on_normal_key(app, key),
        Mode::Help => {
            if matches!(
                key.code,
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q' | '?') | KeyCode::F(1)
            ) {
                app.mode = Mode::Normal;
            }
            Vec::new()
        }
        Mode::Confirm(action) => match key.code {
            // Only `y`: Enter, pressed out of habit, must not remove a member.
            KeyCode::Char('y' | 'Y') => {
                app.mode = Mode::Normal;
                app.notice = None;
                app.busy.push(action.clone());
                vec![Command::Run(action)]
            }
            KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => {
                app.mode = Mode::Normal;
                app.notice = Some(Notice {
                    text: format!("cancelled: nothing was changed ({})", action.doing()),
                    error: false,
                });
                Vec::new()
            }
            _ => Vec::new(),
        },
        Mode::Token { .. } => {
            if matches!(key.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q')) {
                app.mode = Mode::Normal;
            }
            Vec::new()
        }
        Mode::Filter => {
            match key.code {
                KeyCode::Enter => app.mode = Mode::Normal,
                KeyCode::Esc => {
                    app.filter.clear();
                    app.mode = Mode::Normal;
                }
                KeyCode::Backspace => {
                    app.filter.pop();
                }
                KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    app.filter.clear();
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    app.filter.push(c);
                }
                _ => {}
            }
            Vec::new()
        }
        Mode::Prompt(mut line) => match key.code {
            KeyCode::Esc => {
                app.mode = Mode::Normal;
                Vec::new()
            }
            KeyCode::Enter => {
                app.mode = Mode::Normal;
                apply_command(app, &line)
            }
            KeyCode::Backspace => {
                if line.pop().is_none() {
                    app.mode = Mode::Normal;
                } else {
                    app.mode = Mode::Prompt(line);
                }
                Vec::new()
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                app.mode = Mode::Prompt(String::new());
                Vec::new()
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                line.push(c);
                app.mode = Mode::Prompt(line);
                Vec::new()
            }
            _ => Vec::new(),
        },
    }
}

fn apply_command(app: &mut App, line: &str) -> Vec<Command> {
    match prompt::parse(line) {
        Ok(Parsed::Confirm(Action::SetConfig { key, value }))
            if refused(&key, &value).is_some() =>
        {
            // Refused here, with the rule: asking "go ahead?" first would only waste a step.
            let why = refused(&key, &value).unwrap_or_default();
            app.notice = Some(Notice {
                text: format!(":{} — {why}", line.trim()),
                error: true,
            });
        }
        Ok(Parsed::Confirm(action)) => app.mode = Mode::Confirm(action),
        Ok(Parsed::Run(action)) => {
            app.busy.push(action.clone());
            return vec![Command::Run(action)];
        }
        Ok(Parsed::View(view)) => app.view = view,
        Ok(Parsed::Filter(text)) => app.filter = text,
        Ok(Parsed::Help) => app.mode = Mode::Help,
        Ok(Parsed::Quit) => return vec![Command::Quit],
        Err(message) => {
            app.notice = Some(Notice {
                text: format!(":{} — {message}", line.trim()),
                error: true,
            });
        }
    }
    Vec::new()
}

fn on_normal_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let Some(action) = keys::lookup(&key) else {
        app.dirty = false;
        return Vec::new();
    };
    let selected = app.selected_member().cloned();
    let need_selection = |app: &mut App| {
        app.notice = Some(Notice {
            text: "no member selected (the filter may hide them all)".into(),
            error: true,
        });
    };
    match action {
        KeyAction::Up => scroll(app, -1),
        KeyAction::Down => scroll(app, 1),
        KeyAction::Top => match app.focus {
            Pane::Members => app.select_by(|_, _| 0),
            Pane::Detail => app.detail_scroll = 0,
            Pane::Log => app.log_scroll = app.log.len().saturating_sub(1),
        },
        KeyAction::Bottom => match app.focus {
            Pane::Members => app.select_by(|_, len| len.saturating_sub(1)),
            Pane::Detail => app.detail_scroll = u16::MAX / 2,
            Pane::Log => app.log_scroll = 0,
        },
        KeyAction::NextPane => app.focus = app.focus.next(),
        KeyAction::Open => match (app.focus, selected) {
            (Pane::Detail, _) => app.focus = Pane::Members,
            (_, Some(_)) => {
                app.focus = Pane::Detail;
                app.detail_scroll = 0;
            }
            (_, None) => need_selection(app),
        },
        KeyAction::PrevPane => app.focus = app.focus.prev(),
        KeyAction::ToggleView => {
            app.view = match app.view {
                View::Members => View::Domains,
                View::Domains => View::Members,
            };
            app.table_offset = 0;
        }
        KeyAction::Filter => app.mode = Mode::Filter,
        KeyAction::Prompt => app.mode = Mode::Prompt(String::new()),
        KeyAction::NewToken => app.mode = Mode::Prompt("add ".into()),
        KeyAction::SetConfig => app.mode = Mode::Prompt("set ".into()),
        KeyAction::Remove | KeyAction::ForceRemove => match selected {
            Some(m) => {
                app.mode = Mode::Confirm(Action::Remove {
                    name: m.server_name,
                    force: action == KeyAction::ForceRemove,
                });
            }
            None => need_selection(app),
        },
        KeyAction::ToggleEventHub | KeyAction::ToggleOvnChassis => match selected {
            Some(m) => {
                let role = if action == KeyAction::ToggleEventHub {
                    Role::EventHub
                } else {
                    Role::OvnChassis
                };
                app.mode = Mode::Confirm(Action::Role {
                    add: !m.roles.contains(&role),
                    name: m.server_name,
                    role,
                });
            }
            None => need_selection(app),
        },
        KeyAction::SetDomain => match selected {
            Some(m) => app.mode = Mode::Prompt(format!("domain {} ", m.server_name)),
            None => need_selection(app),
        },
        KeyAction::Help => app.mode = Mode::Help,
        KeyAction::Back => {
            if app.notice.is_some() {
                app.notice = None;
            } else if !app.filter.is_empty() {
                app.filter.clear();
            } else {
                app.focus = Pane::Members;
            }
        }
        KeyAction::Quit => return vec![Command::Quit],
    }
    Vec::new()
}

/// Up/down in the focused pane.
fn scroll(app: &mut App, delta: isize) {
    match app.focus {
        Pane::Members => app.move_selection(delta),
        Pane::Detail => {
            app.detail_scroll = app
                .detail_scroll
                .saturating_add_signed(delta as i16)
                .min(u16::MAX / 2);
        }
        Pane::Log => {
            // Up goes back in time.
            let back = app.log_scroll.saturating_add_signed(-delta);
            app.log_scroll = back.min(app.log.len().saturating_sub(1));
        }
    }
}

pub(super) fn on_mouse(app: &mut App, mouse: MouseEvent) -> Vec<Command> {
    if app.mode != Mode::Normal {
        return Vec::new();
    }
    let screen = Rect::new(0, 0, app.size.0, app.size.1);
    let areas = view::areas(screen, app);
    let at = Position::new(mouse.column, mouse.row);
    let pane = if areas.table.contains(at) {
        Pane::Members
    } else if areas.detail.contains(at) {
        Pane::Detail
    } else if areas.log.contains(at) {
        Pane::Log
    } else {
        return Vec::new();
    };
    match mouse.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            app.focus = pane;
            app.dirty = true;
            // Border and heading come first.
            let first = areas.table.y + 2;
            if pane == Pane::Members && at.y >= first && at.y < areas.table.bottom() - 1 {
                let index = app.table_offset + usize::from(at.y - first);
                if let Some(Row::Member(m)) = app.rows().get(index) {
                    let name = m.server_name.clone();
                    if app.selected.as_ref() != Some(&name) {
                        app.selected = Some(name);
                        app.detail_scroll = 0;
                    }
                }
            }
        }
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
            let delta = if mouse.kind == MouseEventKind::ScrollUp {
                -1
            } else {
                1
            };
            let focus = app.focus;
            app.focus = pane;
            scroll(app, delta);
            app.focus = focus;
            app.dirty = true;
        }
        _ => {}
    }
    Vec::new()
}

/// Why setting `key` to `value` would be refused (the key's rule, and what to do), if it would.
pub fn refused(key: &str, value: &str) -> Option<String> {
    corral_shared::config::validate(key, value)
        .err()
        .map(|e| format!("{e}; nothing was changed: type another value (:set {key} VALUE)"))
}

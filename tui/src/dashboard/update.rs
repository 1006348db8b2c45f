//! [`update`], the one pure function that turns a message into a new state and commands,
//! handing keys and mouse to `input` and stream news to `stream`.

use crossterm::event::KeyEventKind;

use super::app::{App, Command, Msg};
use super::{input, stream};

/// Applies `msg` to `app`; returns the side effects to run.
pub fn update(app: &mut App, msg: Msg) -> Vec<Command> {
    app.fix_selection();
    let commands = match msg {
        Msg::Key(key) if key.kind != KeyEventKind::Release => {
            app.dirty = true;
            input::on_key(app, key)
        }
        Msg::Key(_) => Vec::new(),
        Msg::Mouse(mouse) => input::on_mouse(app, mouse),
        Msg::Resize(columns, rows) => {
            app.size = (columns, rows);
            app.dirty = true;
            Vec::new()
        }
        Msg::Tick(now) => {
            // Ages on screen are whole seconds: redraw only when one ticks over.
            if now.unix_ms / 1000 != app.now.unix_ms / 1000 {
                app.dirty = true;
            }
            app.now = now;
            Vec::new()
        }
        Msg::Watch(event, at) => {
            app.now = at;
            app.dirty = true;
            stream::on_watch(app, event)
        }
        Msg::StreamEnded { error, at } => stream::on_stream_ended(app, error, at),
        Msg::Done { action, result, at } => {
            app.now = at;
            app.dirty = true;
            stream::on_done(app, action, result);
            Vec::new()
        }
        Msg::Interrupted => vec![Command::Quit],
    };
    app.fix_selection();
    if app.stale().is_none() {
        app.fresh_at = Some(app.now.clone());
    }
    commands
}

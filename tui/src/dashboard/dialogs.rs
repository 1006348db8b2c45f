//! The overlays: confirmations, the join token and the help.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::action::Action;
use super::app::App;
use super::keys::{BINDINGS, COMMANDS, MOUSE};
use super::text::{hints, wrap};
use super::theme::Theme;

/// A `width` x `height` rectangle centred in `area` (clipped to it).
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}

fn dialog(frame: &mut Frame, theme: Theme, title: &str, lines: Vec<Line>, width: u16) {
    let screen = frame.area();
    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let area = centered(screen, width, height);
    frame.render_widget(Clear, area);
    let block = Block::bordered()
        .title(format!(" {title} "))
        .border_style(theme.border(true));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

pub(super) fn draw_confirm(frame: &mut Frame, app: &App, theme: Theme, action: &Action) {
    let width = frame.area().width.saturating_sub(4).min(70);
    let current = match action {
        Action::SetConfig { key, .. } => Some(app.setting(key)),
        _ => None,
    };
    let mut lines: Vec<Line> = vec![Line::default()];
    // Each paragraph of the explanation (an evacuation's plan has one per instance) is
    // wrapped on its own.
    for paragraph in action.explain(current.as_deref()).split('\n') {
        for text in wrap(paragraph, usize::from(width.saturating_sub(4))) {
            lines.push(Line::raw(format!(" {text}")));
        }
    }
    lines.push(Line::default());
    lines.push(hints(&[("y", "go ahead"), ("n Esc", "cancel")], theme));
    dialog(frame, theme, action.title(), lines, width);
}

/// The first line of the token dialog; the token's lines follow it, then a blank line.
pub const TOKEN_INTRO: &str = "Join token (give it to the new server's init):";

pub(super) fn draw_token(frame: &mut Frame, theme: Theme, name: &str, token: &str) {
    let width = frame.area().width.saturating_sub(4).min(100);
    let inner = usize::from(width.saturating_sub(4)).max(1);
    let mut lines = vec![Line::default(), Line::raw(format!(" {TOKEN_INTRO}"))];
    let chars: Vec<char> = token.chars().collect();
    for chunk in chars.chunks(inner) {
        lines.push(Line::styled(
            format!(" {}", chunk.iter().collect::<String>()),
            theme.heading(),
        ));
    }
    lines.push(Line::default());
    for text in wrap(
        &format!(
            "It is valid for one server named {name}; 'corral cluster revoke-token {name}' \
             cancels it. While the dashboard has the mouse, hold Shift to select text."
        ),
        inner,
    ) {
        lines.push(Line::styled(format!(" {text}"), theme.dim()));
    }
    lines.push(hints(&[("Esc Enter", "close")], theme));
    dialog(
        frame,
        theme,
        &format!("Join token for {name}"),
        lines,
        width,
    );
}

pub(super) fn draw_help(frame: &mut Frame, theme: Theme) {
    let area = centered(frame.area(), 80, 23);
    frame.render_widget(Clear, area);
    let block = Block::bordered()
        .title(" Help: keys and commands ")
        .border_style(theme.border(true));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [left, right] =
        Layout::horizontal([Constraint::Length(36), Constraint::Min(0)]).areas(inner);

    let mut keys = vec![Line::styled("Keys", theme.heading())];
    for b in BINDINGS {
        keys.push(Line::from(vec![
            Span::styled(format!("{:<7}", b.label), theme.key()),
            Span::raw(b.help),
        ]));
    }
    frame.render_widget(Paragraph::new(keys), left);

    let mut more = vec![Line::styled("Commands (after :)", theme.heading())];
    for (usage, what) in COMMANDS {
        more.push(if usage.is_empty() {
            Line::raw(format!("  {what}"))
        } else {
            Line::from(vec![
                Span::styled(format!("{usage:<23}"), theme.key()),
                Span::raw(*what),
            ])
        });
    }
    more.push(Line::default());
    more.push(Line::styled("Mouse", theme.heading()));
    for (what, does) in MOUSE {
        more.push(Line::from(vec![
            Span::styled(format!("{what:<7}"), theme.key()),
            Span::raw(*does),
        ]));
    }
    more.push(Line::default());
    more.push(Line::styled(
        "version: not in the API; ARCH shown",
        theme.dim(),
    ));
    frame.render_widget(Paragraph::new(more), right);
}

//! Drawing: pure functions of the [`App`] onto a ratatui `Frame`. The layout is a function
//! too ([`areas`]), so `update` can tell which pane a mouse click landed in.

use corral_shared::api::ClusterMember;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row as TableRow, Table, TableState};

use super::action::Action;
use super::app::{App, Link, Mode, Pane, Row, View, roles_text};
use super::clock::short_age;
use super::text::{hints, wrap};
use super::theme::Theme;
use super::{dialogs, header};

/// Where each part of the screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// Title, or the disconnected banner.
    pub title: Rect,
    /// The quorum line.
    pub quorum: Rect,
    /// The members table (or failure-domain view), with its border.
    pub table: Rect,
    /// The selected member's detail.
    pub detail: Rect,
    /// The event log.
    pub log: Rect,
    /// The notice line (empty when there is none).
    pub notice: Rect,
    /// Key hints, the filter or the prompt.
    pub footer: Rect,
}

/// Columns from which the table shows address and groups.
const WIDE: u16 = 110;

/// The screen's layout for `app`.
pub fn areas(screen: Rect, app: &App) -> Areas {
    let notice = if app.prompt_hint().is_some() {
        1
    } else {
        // A refusal is shown whole (up to three lines): it carries the rule.
        app.notice.as_ref().map_or(0, |n| {
            let lines = wrap(&n.text, usize::from(screen.width.saturating_sub(4)).max(1)).len();
            u16::try_from(lines.clamp(1, 3)).unwrap_or(3)
        })
    };
    let about = u16::try_from(app.about.len()).unwrap_or(0).min(2);
    let [title, quorum, body, notice, footer] = Layout::vertical([
        Constraint::Length(1 + about),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(notice),
        Constraint::Length(1),
    ])
    .areas(screen);
    // The table takes what its rows need (at least 5 lines, at most what leaves the panes
    // below 9); detail and log share the rest.
    let least_below = if body.height >= 16 {
        9
    } else {
        body.height / 2
    };
    let wanted = u16::try_from(app.rows().len())
        .unwrap_or(u16::MAX)
        .saturating_add(3)
        .max(5);
    let table_height = wanted.min(body.height.saturating_sub(least_below));
    let [table, lower] =
        Layout::vertical([Constraint::Length(table_height), Constraint::Min(0)]).areas(body);
    let [detail, log] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(lower);
    Areas {
        title,
        quorum,
        table,
        detail,
        log,
        notice,
        footer,
    }
}

/// How many rows of members the table shows (inside its border, under its heading).
pub fn table_rows(app: &App) -> u16 {
    let screen = Rect::new(0, 0, app.size.0, app.size.1);
    areas(screen, app).table.height.saturating_sub(3)
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let theme = Theme { color: app.colors };
    let a = areas(frame.area(), app);
    header::draw_title(frame, app, theme, a.title);
    header::draw_quorum(frame, app, theme, a.quorum);
    draw_members(frame, app, theme, a.table);
    draw_detail(frame, app, theme, a.detail);
    draw_log(frame, app, theme, a.log);
    draw_notice(frame, app, theme, a.notice);
    draw_footer(frame, app, theme, a.footer);
    match &app.mode {
        Mode::Help => dialogs::draw_help(frame, theme),
        Mode::Confirm(action) => dialogs::draw_confirm(frame, app, theme, action),
        Mode::Token { name, token } => dialogs::draw_token(frame, theme, name, token),
        Mode::Normal | Mode::Filter | Mode::Prompt(_) => {}
    }
}

/// A pane's frame; the focused one says so in its title (`▶`, reverse video), not only
/// by the colour of its border.
fn pane_block(title: String, focused: bool, theme: Theme) -> Block<'static> {
    let title = if focused {
        Line::styled(format!("▶{title}"), theme.focused_title())
    } else {
        Line::raw(title)
    };
    Block::bordered()
        .title(title)
        .border_style(theme.border(focused))
}

fn draw_members(frame: &mut Frame, app: &App, theme: Theme, area: Rect) {
    let rows = app.rows();
    let shown = app.visible().len();
    let mut title = match app.view {
        View::Members => format!(" Members {shown}"),
        View::Domains => format!(" Failure domains · members {shown}"),
    };
    if shown != app.members.len() {
        title.push_str(&format!(" of {}", app.members.len()));
    }
    if !app.filter.is_empty() {
        title.push_str(&format!(" · filter: {}", app.filter));
    }
    let stale = app.stale();
    if let Some(stale) = &stale {
        title.push_str(&format!(
            " · NOT LIVE: as of {} ({})",
            stale.as_of, stale.why
        ));
    }
    title.push(' ');
    let block = pane_block(title, app.focus == Pane::Members, theme);
    if app.members.is_empty() {
        let text = match app.link {
            Link::Live => "no members",
            _ => "no data yet",
        };
        frame.render_widget(
            Paragraph::new(Span::styled(format!(" {text}"), theme.dim())).block(block),
            area,
        );
        return;
    }
    let wide = area.width >= WIDE;
    let name_width = name_width(app);
    let mut header = vec!["NAME"];
    let mut widths = vec![Constraint::Length(name_width)];
    if wide {
        header.push("ADDRESS");
        widths.push(Constraint::Length(21));
    }
    header.extend(["STATUS", "INST", "ROLES", "DOMAIN"]);
    widths.extend([
        Constraint::Length(9),
        Constraint::Length(4),
        Constraint::Fill(1),
        Constraint::Length(10),
    ]);
    if wide {
        header.push("GROUPS");
        widths.push(Constraint::Length(10));
    }
    header.extend(["HB AGO", "ARCH"]);
    widths.extend([Constraint::Length(6), Constraint::Length(7)]);

    let table_rows: Vec<TableRow> = rows
        .iter()
        .map(|row| match row {
            Row::Domain {
                name,
                members,
                online,
                voters,
            } => {
                let mut cells = vec![
                    Cell::from(format!("▸ {name}")),
                    Cell::from(format!("{online}/{members} up")),
                    Cell::from(""),
                    Cell::from(format!(
                        "{voters} voter{}",
                        if *voters == 1 { "" } else { "s" }
                    )),
                ];
                if wide {
                    cells.insert(1, Cell::from(""));
                }
                TableRow::new(cells).style(theme.heading())
            }
            Row::Member(m) => member_row(app, theme, m, wide, stale.is_some()),
        })
        .collect();
    let mut table = Table::new(table_rows, widths)
        .header(TableRow::new(header).style(theme.heading()))
        .block(block)
        .column_spacing(1)
        .row_highlight_style(theme.selected());
    if stale.is_some() {
        table = table.style(theme.stale());
    }
    let mut state = TableState::default()
        .with_offset(app.table_offset)
        .with_selected(app.selected_row());
    frame.render_stateful_widget(table, area, &mut state);
}

/// The NAME column: wide enough for every member, and in the failure-domain view for
/// every domain heading (`▸ rack-1`) too, so no name is cut.
pub fn name_width(app: &App) -> u16 {
    let members = app
        .members
        .iter()
        .map(|m| m.server_name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 16);
    let width = if app.view == View::Domains {
        let domains = app
            .members
            .iter()
            .map(|m| m.failure_domain.chars().count() + 2)
            .max()
            .unwrap_or(0);
        (members + 2).max(domains).min(40)
    } else {
        members
    };
    u16::try_from(width).unwrap_or(16)
}

fn member_row<'a>(
    app: &App,
    theme: Theme,
    m: &'a ClusterMember,
    wide: bool,
    stale: bool,
) -> TableRow<'a> {
    let indent = if app.view == View::Domains { "  " } else { "" };
    let age = app
        .heartbeat_age_ms(&m.server_name)
        .map_or_else(|| "-".to_string(), short_age);
    let mut cells = vec![Cell::from(format!("{indent}{}", m.server_name))];
    if wide {
        cells.push(Cell::from(address(m)));
    }
    let status_style = if stale {
        theme.stale()
    } else {
        theme.status(m.status)
    };
    cells.push(Cell::from(Span::styled(
        m.status.to_string().to_uppercase(),
        status_style,
    )));
    // Instances held: what an evacuation would move.
    let held = app.instances.get(&m.server_name).copied().unwrap_or(0);
    cells.push(Cell::from(format!("{held:>4}")));
    cells.push(Cell::from(roles_text(&m.roles)));
    cells.push(Cell::from(m.failure_domain.clone()));
    if wide {
        cells.push(Cell::from(m.groups.join(",")));
    }
    cells.push(Cell::from(age));
    cells.push(Cell::from(m.architecture.clone()));
    TableRow::new(cells)
}

/// `IP:PORT` from the member's `https://IP:PORT`.
fn address(m: &ClusterMember) -> String {
    m.url.strip_prefix("https://").unwrap_or(&m.url).to_string()
}

fn draw_detail(frame: &mut Frame, app: &App, theme: Theme, area: Rect) {
    let focused = app.focus == Pane::Detail;
    let Some(m) = app.selected_member() else {
        let block = pane_block(" Detail ".into(), focused, theme);
        frame.render_widget(
            Paragraph::new(Span::styled(" nothing selected", theme.dim())).block(block),
            area,
        );
        return;
    };
    let label = |text: &str| Span::styled(format!("{text:<10}"), theme.dim());
    let heartbeat = match (
        app.heartbeats.get(&m.server_name),
        app.heartbeat_age_ms(&m.server_name),
    ) {
        (Some(at), Some(age)) if area.width >= 50 => format!("{} ago ({at})", short_age(age)),
        (Some(_), Some(age)) => format!("{} ago", short_age(age)),
        (Some(at), None) => at.clone(),
        _ => "none seen".into(),
    };
    let mut lines = vec![
        Line::from(vec![
            label("status"),
            Span::styled(m.status.to_string().to_uppercase(), theme.status(m.status)),
            Span::raw(format!(" · {}", m.message)),
        ]),
        Line::from(vec![label("address"), Span::raw(address(m))]),
        Line::from(vec![label("roles"), Span::raw(roles_text(&m.roles))]),
        Line::from(vec![label("domain"), Span::raw(m.failure_domain.clone())]),
        Line::from(vec![label("groups"), Span::raw(m.groups.join(", "))]),
        Line::from(vec![label("arch"), Span::raw(m.architecture.clone())]),
        Line::from(vec![label("heartbeat"), Span::raw(heartbeat)]),
    ];
    if !m.description.is_empty() {
        lines.push(Line::from(vec![
            label("about"),
            Span::raw(m.description.clone()),
        ]));
    }
    if m.config.is_empty() {
        lines.push(Line::from(vec![
            label("config"),
            Span::styled("(none)", theme.dim()),
        ]));
    } else {
        lines.push(Line::from(label("config")));
        for (key, value) in &m.config {
            lines.push(Line::raw(format!("  {key}: {value}")));
        }
    }
    lines.push(Line::from(label("role history (this session)")));
    for change in app.history.get(&m.server_name).into_iter().flatten() {
        lines.push(Line::from(vec![
            Span::styled(format!("  {} ", change.clock), theme.dim()),
            Span::raw(roles_text(&change.roles)),
        ]));
    }
    let block = pane_block(format!(" {} ", m.server_name), focused, theme);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((app.detail_scroll, 0)),
        area,
    );
}

fn draw_log(frame: &mut Frame, app: &App, theme: Theme, area: Rect) {
    let title = if app.log_scroll > 0 {
        format!(" Events (back {}) ", app.log_scroll)
    } else {
        " Events ".to_string()
    };
    let block = pane_block(title, app.focus == Pane::Log, theme);
    let height = usize::from(area.height.saturating_sub(2));
    // Long lines wrap under their text, so narrow terminals lose nothing.
    let width = usize::from(area.width.saturating_sub(2 + 9)).max(8);
    let end = app.log.len().saturating_sub(app.log_scroll);
    let mut lines: Vec<Line> = Vec::new();
    for entry in app.log[..end].iter().rev() {
        let mut parts: Vec<Line> = wrap(&entry.text, width)
            .into_iter()
            .enumerate()
            .map(|(i, text)| {
                let clock = if i == 0 {
                    Span::styled(format!("{} ", entry.clock), theme.dim())
                } else {
                    Span::raw(" ".repeat(9))
                };
                Line::from(vec![clock, Span::styled(text, theme.log(entry.kind))])
            })
            .collect();
        parts.append(&mut lines);
        lines = parts;
        if lines.len() >= height {
            break;
        }
    }
    let skip = lines.len().saturating_sub(height);
    lines.drain(..skip);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_notice(frame: &mut Frame, app: &App, theme: Theme, area: Rect) {
    if area.height == 0 {
        return;
    }
    let lines = if let Some(hint) = app.prompt_hint() {
        vec![Line::styled(format!(" {hint}"), theme.dim())]
    } else if let Some(notice) = &app.notice {
        let (mark, style) = if notice.error {
            (" ✗ ", theme.bad())
        } else {
            (" ✓ ", theme.good())
        };
        wrap(
            &notice.text,
            usize::from(area.width.saturating_sub(4)).max(1),
        )
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            let mark = if i == 0 { mark } else { "   " };
            Line::from(vec![Span::styled(mark, style), Span::styled(text, style)])
        })
        .collect()
    } else {
        Vec::new()
    };
    frame.render_widget(Paragraph::new(lines), area);
}

/// As many of `pairs` as fit in `width` columns, in order (the first ones matter most).
fn fitting<'a>(pairs: &[(&'a str, &'a str)], width: u16) -> Vec<(&'a str, &'a str)> {
    let mut used = 1;
    let mut kept = Vec::new();
    for (key, what) in pairs {
        let cost =
            key.chars().count() + what.chars().count() + 1 + if kept.is_empty() { 0 } else { 3 };
        if used + cost > usize::from(width) {
            break;
        }
        used += cost;
        kept.push((*key, *what));
    }
    kept
}

fn draw_footer(frame: &mut Frame, app: &App, theme: Theme, area: Rect) {
    let line = match &app.mode {
        Mode::Filter => {
            let text = format!(" /{}", app.filter);
            frame.set_cursor_position(Position::new(area.x + text.chars().count() as u16, area.y));
            let mut line = Line::raw(text);
            line.push_span(Span::styled("   Enter keep · Esc clear", theme.dim()));
            line
        }
        Mode::Prompt(text) => {
            let text = format!(" :{text}");
            frame.set_cursor_position(Position::new(area.x + text.chars().count() as u16, area.y));
            let mut line = Line::raw(text);
            line.push_span(Span::styled("   Enter run · Esc cancel", theme.dim()));
            line
        }
        Mode::Help => hints(&[("Esc", "close help")], theme),
        Mode::Confirm(_) => hints(&[("y", "go ahead"), ("n Esc", "cancel")], theme),
        Mode::Token { .. } => hints(&[("Esc Enter", "close")], theme),
        Mode::Normal if !app.busy.is_empty() => {
            let doing: Vec<String> = app.busy.iter().map(Action::doing).collect();
            Line::styled(format!(" working: {} ...", doing.join("; ")), theme.key())
        }
        Mode::Normal => hints(
            &fitting(
                &[
                    ("?", "help"),
                    ("q", "quit"),
                    ("/", "filter"),
                    (":", "command"),
                    ("a", "token"),
                    ("x", "remove"),
                    ("e o", "roles"),
                    ("f", "domain"),
                    ("c", "setting"),
                    ("v", "view"),
                ],
                area.width,
            ),
            theme,
        ),
    };
    frame.render_widget(Paragraph::new(line), area);
}

//! The two lines on top: which member is watched (or the disconnected banner), and the
//! quorum as Raft sees it, faded and dated when it is not live.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::{App, Link, down_text};
use super::clock::short_duration;
use super::status::Quorum;
use super::theme::Theme;

pub(super) fn draw_title(frame: &mut Frame, app: &App, theme: Theme, area: Rect) {
    let first = match &app.link {
        Link::Down {
            since,
            attempt,
            retry_in,
            error,
        } => {
            let text = if app.sources.len() > 1 {
                // Which member comes next matters more than why the last one failed.
                format!(
                    " disconnected since {}; next try: {} (attempt {attempt}, in {}): {error}",
                    since.clock,
                    app.source,
                    short_duration(*retry_in)
                )
            } else {
                format!(" {}", down_text(since, *attempt, *retry_in, error))
            };
            Line::styled(text, theme.banner())
        }
        Link::Connecting => Line::from(vec![
            Span::styled(" corral dashboard", theme.heading()),
            Span::styled(format!("  connecting to {} ...", app.source), theme.dim()),
        ]),
        Link::Live => {
            let left = format!(" corral dashboard · watching {}", app.server);
            let lost = app
                .lost
                .as_ref()
                .map(|old| format!(" · {old} cannot be reached"))
                .unwrap_or_default();
            let right = format!(
                "term {} · commit {} · applied {} ",
                app.raft.term, app.raft.commit_index, app.raft.applied_index
            );
            let gap = usize::from(area.width).saturating_sub(
                left.chars().count() + lost.chars().count() + right.chars().count(),
            );
            Line::from(vec![
                Span::styled(left, theme.heading()),
                Span::styled(lost, theme.warn()),
                Span::raw(" ".repeat(gap.max(1))),
                Span::styled(right, theme.dim()),
            ])
        }
    };
    let style = if matches!(app.link, Link::Down { .. }) {
        theme.banner()
    } else {
        Style::new()
    };
    let mut lines = vec![first.style(style)];
    for about in app.about.iter().take(2) {
        lines.push(Line::styled(format!(" {about}"), theme.dim()));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

pub(super) fn draw_quorum(frame: &mut Frame, app: &App, theme: Theme, area: Rect) {
    if app.members.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(
                " waiting for the cluster's state",
                theme.dim(),
            )),
            area,
        );
        return;
    }
    let (_, _, _, standby_online, standbys) = app.quorum();
    let (word, style, detail) = quorum_words(&app.quorum_view(), theme);
    let leader = app.raft.leader.as_deref().unwrap_or("none");
    let stale = app.stale();
    let mut spans = vec![
        Span::styled(" Quorum ", theme.heading()),
        Span::styled(word, style),
        Span::raw(format!(
            " {detail} · stand-bys {standby_online} of {standbys} · leader "
        )),
        Span::styled(leader.to_string(), theme.heading()),
    ];
    if let Some(stale) = &stale {
        // Not live: every part fades, and the line starts with since when it is known.
        for span in &mut spans {
            span.style = theme.stale();
        }
        spans.insert(
            0,
            Span::styled(format!(" as of {} ·", stale.as_of), theme.warn()),
        );
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The quorum line's verdict, its style, and its figures in words.
fn quorum_words(q: &Quorum, theme: Theme) -> (String, Style, String) {
    let bar = |up: usize, voters: usize| -> String {
        (0..voters)
            .map(|i| if i < up { '■' } else { '□' })
            .collect()
    };
    match q {
        Quorum::Ok { voters } => (
            format!("OK {}", bar(*voters, *voters)),
            theme.good(),
            format!("{voters} of {voters} voters answer the leader"),
        ),
        Quorum::Degraded {
            up,
            voters,
            needed,
            down,
        } => (
            format!("DEGRADED {}", bar(*up, *voters)),
            theme.warn(),
            format!(
                "{up} of {voters} voters answer, {needed} needed; down: {}",
                down.join(", ")
            ),
        ),
        Quorum::Lost {
            up,
            voters,
            needed,
            down,
        } => (
            format!("LOST {}", bar(*up, *voters)),
            theme.bad(),
            format!(
                "{up} of {voters} voters answer, {needed} needed; down: {}",
                down.join(", ")
            ),
        ),
        Quorum::Election { term } => (
            "ELECTION".into(),
            theme.bad(),
            format!("no leader (term {term}): writes wait"),
        ),
        Quorum::LeaderSilent { leader } => (
            "UNKNOWN".into(),
            theme.bad(),
            format!("the leader {leader} does not answer"),
        ),
        Quorum::FromStatuses {
            online,
            voters,
            needed,
        } => {
            let ok = q.holds();
            (
                format!(
                    "{} {}",
                    if ok { "OK" } else { "LOST" },
                    bar(*online, *voters)
                ),
                if ok { theme.good() } else { theme.bad() },
                format!("{online} of {voters} voters online, {needed} needed"),
            )
        }
    }
}

//! The live event stream, newest at the bottom. It follows unless scrolled up (then a
//! `▼ N new` marker counts what arrived below); space pauses it; `/` filters it.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use super::event_line;
use crate::tui::app::App;

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.theme;
    let rows = app.events_rows();
    let h = area.height.saturating_sub(2) as usize;
    let end = rows.len().saturating_sub(app.events_scroll);
    let start = end.saturating_sub(h);
    let lines: Vec<Line> = rows[start..end]
        .iter()
        .map(|e| event_line(app, e, true))
        .collect();
    let mut title = vec![Span::styled(
        format!(" events ({})", rows.len()),
        th.title(),
    )];
    if !app.events_filter.text.is_empty() {
        title.push(Span::raw(format!(" /{}", app.events_filter.text)));
    }
    if let Some((_, seen)) = &app.events_paused {
        let new = app.model.events_seen.saturating_sub(*seen);
        title.push(Span::styled(format!(" paused · {new} new"), th.warn()));
    } else if app.events_scroll > 0 {
        title.push(Span::styled(
            format!(" ▼ {} newer", app.events_scroll),
            th.warn(),
        ));
    } else {
        title.push(Span::styled(" following", th.dim()));
    }
    title.push(Span::raw(" "));
    let p = Paragraph::new(lines).block(
        Block::default()
            .borders(Borders::ALL)
            .border_style(th.border())
            .title(Line::from(title)),
    );
    f.render_widget(p, area);
}

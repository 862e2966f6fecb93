//! Help, generated from the keymap: every key of the current view that the gate lets
//! through, then the commands and where the log is.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::widgets::centered;

/// The help text: one line per key of the current view.
pub fn help_lines(app: &App) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = app
        .visible_actions()
        .into_iter()
        .map(|a| (app.keymap.keys_text(a), a.describe().to_string()))
        .collect();
    out.push((
        ":".into(),
        "machines · swarms · events · ops · swarm NAME · machine NAME · sort COL · q".into(),
    ));
    out.push((
        "filter".into(),
        "regex · !regex · health=degraded state=running swarm=prod".into(),
    ));
    out.push(("log".into(), app.settings.log_file.clone()));
    out
}

pub fn draw(app: &App, f: &mut Frame, body: Rect, scroll: u16) {
    let th = &app.theme;
    let lines = help_lines(app);
    let w = body.width.saturating_sub(4).min(100);
    let h = (lines.len() as u16 + 2).min(body.height);
    let area = centered(body, w, h);
    let kw = lines
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(4)
        .min(18);
    let text: Vec<Line> = lines
        .into_iter()
        .map(|(k, d)| {
            Line::from(vec![
                Span::styled(format!(" {k:<kw$} "), th.key()),
                Span::raw(d),
            ])
        })
        .collect();
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(text).scroll((scroll, 0)).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(th.focused_border())
                .title(Span::styled(
                    format!(
                        " help · {} (j/k scroll, any key closes) ",
                        app.view().name()
                    ),
                    th.title(),
                )),
        ),
        area,
    );
}

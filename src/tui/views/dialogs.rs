//! Dialogs over the view: forms (with each field's problem under it, and the server's
//! refusal at the bottom), confirmations that list exactly what goes, and env.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::tui::app::{App, Dialog};
use crate::tui::forms::{FieldKind, Form, FormKind};
use crate::tui::widgets::{centered, cut};

pub fn draw(app: &App, f: &mut Frame, body: Rect, d: &Dialog) {
    match d {
        Dialog::Form(form) => draw_form(app, f, body, form),
        Dialog::Confirm(c) => {
            let th = &app.theme;
            let w = body.width.saturating_sub(4).min(72);
            let mut lines: Vec<Line> = c
                .lines
                .iter()
                .map(|l| Line::from(cut(l, w.saturating_sub(4) as usize)))
                .collect();
            if let Some((want, got)) = &c.typed {
                lines.push(Line::from(""));
                lines.push(Line::from(format!("type {want} to confirm:")));
                let style = if got.text == *want {
                    th.ok()
                } else {
                    th.warn()
                };
                lines.push(Line::from(Span::styled(format!("[{}▏]", got.text), style)));
            }
            lines.push(Line::from(""));
            lines.push(Line::from(vec![
                Span::styled(" esc ", th.key()),
                Span::raw("cancel   "),
                Span::styled(" enter ", if c.ready() { th.error() } else { th.dim() }),
                Span::raw(c.yes),
            ]));
            let h = (lines.len() as u16 + 2).min(body.height);
            let area = centered(body, w, h);
            f.render_widget(Clear, area);
            f.render_widget(
                Paragraph::new(lines).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .border_style(th.error())
                        .title(Span::styled(format!(" {} ", c.title), th.error())),
                ),
                area,
            );
        }
        Dialog::Env(e) => {
            let th = &app.theme;
            let mut lines: Vec<Line> = e.lines.iter().map(|l| Line::from(l.clone())).collect();
            lines.push(Line::from(""));
            lines.push(Line::from(vec![
                Span::styled(" enter ", th.key()),
                Span::raw(if e.copied {
                    "copied to the clipboard (OSC 52)   "
                } else {
                    "copy (OSC 52)   "
                }),
                Span::styled(" esc ", th.key()),
                Span::raw("close"),
            ]));
            let w = body.width.saturating_sub(4).min(90);
            let area = centered(body, w, lines.len() as u16 + 2);
            f.render_widget(Clear, area);
            f.render_widget(
                Paragraph::new(lines).wrap(Wrap { trim: false }).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .border_style(th.focused_border())
                        .title(Span::styled(format!(" env · {} ", e.machine), th.title())),
                ),
                area,
            );
        }
    }
}

fn draw_form(app: &App, f: &mut Frame, body: Rect, form: &Form) {
    let th = &app.theme;
    let w = body.width.saturating_sub(4).min(76);
    let inner = w.saturating_sub(2) as usize;
    let errors = form.errors();
    let lw = 13usize;
    let mut lines = Vec::new();
    let mut focus_line = 0;
    for (i, field) in form.fields.iter().enumerate() {
        let focused = i == form.focus;
        if focused {
            focus_line = lines.len();
        }
        let value = match field.kind {
            FieldKind::Toggle => format!("[{}]", if field.on() { "x" } else { " " }),
            FieldKind::Choice => {
                let v = if field.input.text.is_empty() {
                    "default"
                } else {
                    field.input.text.as_str()
                };
                format!("‹ {v} ›")
            }
            _ => {
                let fw = inner.saturating_sub(lw + 4).min(40);
                let mut v = field.input.text.clone();
                if focused {
                    let b = v
                        .char_indices()
                        .nth(field.input.cursor)
                        .map(|(b, _)| b)
                        .unwrap_or(v.len());
                    v.insert(b, '▏');
                }
                format!("[{:<fw$}]", cut(&v, fw))
            }
        };
        let label_style = if focused { th.key() } else { th.dim() };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{}{:<lw$}", if focused { "›" } else { " " }, field.label),
                label_style,
            ),
            Span::raw(value),
        ]));
        for (_, e) in errors.iter().filter(|(fi, _)| *fi == i) {
            lines.push(Line::from(Span::styled(format!("  ✗ {e}"), th.error())));
        }
        if let Some(Ok(l)) = &field.loaded {
            lines.push(Line::from(Span::styled(
                cut(&format!("  ✓ {}", l.note), inner),
                th.ok(),
            )));
        }
        if focused && !field.help.is_empty() {
            lines.push(Line::from(Span::styled(
                cut(&format!("  {}", field.help), inner),
                th.dim(),
            )));
        }
    }
    if form.kind == FormKind::Scale {
        lines.push(Line::from(""));
        for l in form.scale_preview() {
            lines.push(Line::from(Span::styled(cut(&l, inner), th.warn())));
        }
    }
    if let Some(e) = &form.server_error {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            format!("✗ refused: {e}"),
            th.error(),
        )));
    }
    lines.push(Line::from(""));
    let verb = match form.kind {
        FormKind::Scale => "scale",
        _ => "create",
    };
    lines.push(Line::from(if form.submitting {
        vec![Span::styled(" sending…", th.warn())]
    } else {
        vec![
            Span::styled(" tab ", th.key()),
            Span::raw("next   "),
            Span::styled(" esc ", th.key()),
            Span::raw("cancel   "),
            Span::styled(
                " enter ",
                if errors.is_empty() {
                    th.key()
                } else {
                    th.dim()
                },
            ),
            Span::raw(verb),
        ]
    }));
    // Long messages wrap: count the rows they take.
    let row_of = |n: usize| -> usize {
        lines[..n]
            .iter()
            .map(|l| l.width().div_ceil(inner.max(1)).max(1))
            .sum()
    };
    let rows = row_of(lines.len());
    let h = (rows as u16 + 2).min(body.height);
    // A form taller than the screen scrolls so the focused field and its help show.
    let shown = h.saturating_sub(2) as usize;
    let scroll = (row_of(focus_line) + 3)
        .saturating_sub(shown)
        .min(rows.saturating_sub(shown)) as u16;
    let area = centered(body, w, h);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(th.focused_border())
                    .title(Span::styled(format!(" {} ", form.title), th.title())),
            ),
        area,
    );
}

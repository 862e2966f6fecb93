//! Small drawing helpers shared by the views: a table that builds only its visible
//! rows, text gauges and sparklines (plain characters, so they read the same in 16
//! colors and without color), and centered dialog areas.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};
use ratatui::Frame;

use super::app::Table as ListTable;
use super::theme::Theme;
use crate::api::{Step, StepState};

/// One column: title, width, and how soon it is dropped on a narrow terminal (0 never).
#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub title: &'static str,
    pub width: u16,
    pub drop: u8,
}

/// The columns that fit `width`: the most droppable go first.
pub fn fit_columns(cols: &[Col], width: u16) -> Vec<usize> {
    let mut keep: Vec<usize> = (0..cols.len()).collect();
    let need = |keep: &[usize]| -> u16 { keep.iter().map(|&i| cols[i].width + 1).sum::<u16>() };
    while need(&keep) > width {
        let Some((pos, _)) = keep
            .iter()
            .enumerate()
            .filter(|(_, &i)| cols[i].drop > 0)
            .max_by_key(|(p, &i)| (cols[i].drop, *p))
        else {
            break;
        };
        keep.remove(pos);
    }
    keep
}

/// A list view's table (machines, swarms, operations): the columns that fit, the rows
/// in the window from the table's offset, its sort and selection. `row(i, keep)`
/// builds the cells of row `i` for the kept columns.
pub fn list<'a>(
    f: &mut Frame,
    area: Rect,
    theme: &Theme,
    title: Line<'a>,
    cols: &[Col],
    t: &ListTable,
    mut row: impl FnMut(usize, &[usize]) -> Vec<Cell<'a>>,
) {
    let keep = fit_columns(cols, area.width.saturating_sub(2));
    let height = area.height.saturating_sub(3) as usize;
    let start = t.offset.min(t.rows.len());
    let end = (start + height).min(t.rows.len());
    table(
        f,
        area,
        theme,
        title,
        cols,
        &keep,
        Some((t.sort, t.desc)),
        start..end,
        Some(t.selected),
        true,
        |i| row(i, &keep),
    );
}

/// A list's title: `what`, then the filter when one is set.
pub fn list_title(what: String, t: &ListTable) -> String {
    let mut title = what;
    if !t.filter.text.is_empty() {
        title.push_str(&format!(" /{}", t.filter.text));
    }
    title.push(' ');
    title
}

/// Draws a bordered table with only the rows in view. `row(i)` builds the cells of
/// visible row `i` (an index into the table's rows), already cut to `keep`'s columns.
#[allow(clippy::too_many_arguments)]
pub fn table<'a>(
    f: &mut Frame,
    area: Rect,
    theme: &Theme,
    title: Line<'a>,
    cols: &[Col],
    keep: &[usize],
    sorted: Option<(usize, bool)>,
    rows: std::ops::Range<usize>,
    selected: Option<usize>,
    focused: bool,
    mut row: impl FnMut(usize) -> Vec<Cell<'a>>,
) {
    let widths: Vec<Constraint> = keep
        .iter()
        .enumerate()
        .map(|(n, &i)| {
            if n == 0 {
                Constraint::Min(cols[i].width)
            } else {
                Constraint::Length(cols[i].width)
            }
        })
        .collect();
    let header = Row::new(keep.iter().map(|&i| {
        let mut t = cols[i].title.to_string();
        if let Some((s, desc)) = sorted {
            if s == i {
                t.push(if desc { '▼' } else { '▲' });
            }
        }
        Cell::from(t)
    }))
    .style(theme.header());
    let body: Vec<Row> = rows
        .map(|i| {
            let style = if Some(i) == selected {
                theme.selected()
            } else {
                Style::default()
            };
            Row::new(row(i)).style(style)
        })
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused {
            theme.focused_border()
        } else {
            theme.border()
        })
        .title(title);
    let t = Table::new(body, widths)
        .header(header)
        .block(block)
        .column_spacing(1);
    f.render_widget(t, area);
}

/// `[█████▋    ]` for a share in percent.
pub fn bar(percent: f64, width: usize) -> String {
    let p = percent.clamp(0.0, 100.0) / 100.0;
    let eighths = (p * width as f64 * 8.0).round() as usize;
    let full = eighths / 8;
    let rest = eighths % 8;
    let mut s = String::with_capacity(width * 3);
    s.push_str(&"█".repeat(full.min(width)));
    if full < width {
        if rest > 0 {
            s.push([' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'][rest]);
        } else {
            s.push(' ');
        }
        s.push_str(&" ".repeat(width - full - 1));
    }
    format!("[{s}]")
}

/// A gauge of an operation's steps, one segment per step (scaled to `width` cells):
/// done `█`, running `▒`, failed `✗`, skipped `░`, pending `·`, each in its color, so
/// which step runs and how many remain shows at a glance.
pub fn step_gauge(steps: &[Step], width: usize, th: &Theme) -> Vec<Span<'static>> {
    if steps.is_empty() || width == 0 {
        return vec![Span::raw(" ".repeat(width))];
    }
    let mut out: Vec<Span<'static>> = Vec::new();
    let mut run = String::new();
    let mut run_state = None;
    for cell in 0..width {
        let state = steps[cell * steps.len() / width].state;
        if run_state.is_some_and(|s| s != state) {
            out.push(Span::styled(
                std::mem::take(&mut run),
                step_style(run_state, th),
            ));
        }
        run_state = Some(state);
        run.push(match state {
            StepState::Done => '█',
            StepState::Running => '▒',
            StepState::Failed => '✗',
            StepState::Skipped => '░',
            StepState::Pending => '·',
        });
    }
    out.push(Span::styled(run, step_style(run_state, th)));
    out
}

fn step_style(state: Option<StepState>, th: &Theme) -> Style {
    match state {
        Some(StepState::Done) => th.ok(),
        Some(StepState::Running) => th.warn(),
        Some(StepState::Failed) => th.error(),
        _ => th.dim(),
    }
}

/// A sparkline of the last `width` values, scaled to `max` (or the largest value).
pub fn spark(values: &[Option<f32>], width: usize, max: Option<f32>) -> String {
    const TICKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let tail = &values[values.len().saturating_sub(width)..];
    let top = max
        .or_else(|| tail.iter().flatten().copied().reduce(f32::max))
        .unwrap_or(1.0)
        .max(f32::EPSILON);
    let mut s: String = tail
        .iter()
        .map(|v| match v {
            Some(v) => TICKS[((v / top).clamp(0.0, 1.0) * 7.0).round() as usize],
            None => ' ',
        })
        .collect();
    let n = s.chars().count();
    if n < width {
        s = format!("{}{s}", " ".repeat(width - n));
    }
    s
}

/// A rectangle of at most `w` x `h`, centered in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// A line of `key label` pairs cut to `width`.
pub fn key_line<'a>(theme: &Theme, pairs: &[(String, &'a str)], width: u16) -> Line<'a> {
    let mut spans = Vec::new();
    let mut used = 0usize;
    for (k, label) in pairs {
        let w = k.chars().count() + label.chars().count() + 3;
        if used + w > width as usize {
            break;
        }
        spans.push(Span::raw(" "));
        spans.push(Span::styled(k.clone(), theme.key()));
        spans.push(Span::raw(format!(" {label} ")));
        used += w;
    }
    Line::from(spans)
}

/// Cuts `s` to `w` characters, with `…` when cut.
pub fn cut(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else if w == 0 {
        String::new()
    } else {
        let mut t: String = s.chars().take(w - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_gauges_have_a_segment_per_step() {
        let step = |state| Step {
            name: "s".into(),
            state,
            elapsed_ms: None,
        };
        let steps = [
            step(StepState::Done),
            step(StepState::Done),
            step(StepState::Running),
            step(StepState::Pending),
        ];
        let text = |spans: Vec<Span>| {
            spans
                .iter()
                .map(|s| s.content.to_string())
                .collect::<String>()
        };
        let th = Theme::plain();
        assert_eq!(text(step_gauge(&steps, 8, &th)), "████▒▒··");
        assert_eq!(text(step_gauge(&steps, 4, &th)), "██▒·");
        assert_eq!(text(step_gauge(&[], 3, &th)), "   ");
    }

    #[test]
    fn bars_and_sparks() {
        assert_eq!(bar(0.0, 4), "[    ]");
        assert_eq!(bar(100.0, 4), "[████]");
        assert_eq!(bar(50.0, 4), "[██  ]");
        assert_eq!(
            spark(&[Some(0.0), Some(50.0), Some(100.0)], 4, Some(100.0)),
            " ▁▅█"
        );
        assert_eq!(cut("abcdef", 4), "abc…");
        let cols = [
            Col {
                title: "A",
                width: 10,
                drop: 0,
            },
            Col {
                title: "B",
                width: 10,
                drop: 2,
            },
            Col {
                title: "C",
                width: 10,
                drop: 1,
            },
        ];
        assert_eq!(fit_columns(&cols, 40), vec![0, 1, 2]);
        assert_eq!(fit_columns(&cols, 25), vec![0, 2]);
        assert_eq!(fit_columns(&cols, 5), vec![0]);
    }
}

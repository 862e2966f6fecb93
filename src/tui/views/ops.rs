//! Running and recent operations, newest first, each with a gauge of its steps (one
//! segment per step); every running one's gauge and current step above the steps of
//! the selected one.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph};
use ratatui::Frame;

use crate::api::StepState;
use crate::tui::app::{op_result, progress, short_id, App};
use crate::tui::widgets::{list, list_title, step_gauge, Col};

const COLS: [Col; 6] = [
    Col {
        title: "ID",
        width: 13,
        drop: 2,
    },
    Col {
        title: "KIND",
        width: 16,
        drop: 0,
    },
    Col {
        title: "TARGET",
        width: 16,
        drop: 0,
    },
    Col {
        title: "PROGRESS",
        width: 16,
        drop: 0,
    },
    Col {
        title: "RESULT",
        width: 10,
        drop: 0,
    },
    Col {
        title: "AGE",
        width: 4,
        drop: 1,
    },
];

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.theme;
    let t = &app.ops;
    let [list_area, steps] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
    let ops = &app.model.ops;
    let title = list_title(
        format!(
            " operations ({}, {} running)",
            t.rows.len(),
            app.model.running_ops()
        ),
        t,
    );
    list(
        f,
        list_area,
        th,
        Line::from(Span::styled(title, th.title())),
        &COLS,
        t,
        |i, keep| {
            let o = &ops[t.rows[i]];
            let p = progress(o) * 100.0;
            let res = op_result(o);
            let style = match res {
                "failed" => th.error(),
                "succeeded" => th.ok(),
                "cancelled" => th.warn(),
                _ => ratatui::style::Style::default(),
            };
            keep.iter()
                .map(|&c| match c {
                    0 => Cell::from(short_id(&o.id)),
                    1 => Cell::from(o.kind.as_str()),
                    2 => Cell::from(o.target.clone()),
                    3 => {
                        let mut spans = step_gauge(&o.steps, 10, th);
                        spans.push(Span::raw(format!(" {p:>3.0}%")));
                        Cell::from(Line::from(spans))
                    }
                    4 => Cell::from(res).style(style),
                    _ => Cell::from(app.age_since(o.started_ms)),
                })
                .collect()
        },
    );
    let mut lines = Vec::new();
    // Every running operation's steps as a gauge, whichever is selected.
    let running: Vec<_> = ops.iter().filter(|o| !o.is_finished()).collect();
    for o in running.iter().take(3) {
        let at = o
            .steps
            .iter()
            .position(|s| s.state == StepState::Running)
            .map(|i| format!("{}/{} {}", i + 1, o.steps.len(), o.steps[i].name))
            .unwrap_or_default();
        let mut spans = vec![Span::styled(
            format!("▶ {} {} ", o.kind.as_str(), o.target),
            th.warn(),
        )];
        spans.extend(step_gauge(&o.steps, 20, th));
        spans.push(Span::raw(format!(" {at}")));
        lines.push(Line::from(spans));
    }
    if running.len() > 3 {
        lines.push(Line::from(Span::styled(
            format!("  and {} more running", running.len() - 3),
            th.dim(),
        )));
    }
    if !running.is_empty() {
        lines.push(Line::from(""));
    }
    if let Some(o) = app.selected_op() {
        lines.push(Line::from(format!(
            "{} {} · {} · started {} ago",
            o.kind.as_str(),
            o.target,
            o.id,
            app.age_since(o.started_ms)
        )));
        for (n, s) in o.steps.iter().enumerate() {
            let (mark, style) = match s.state {
                StepState::Done => ("✓", th.ok()),
                StepState::Running => ("▶", th.warn()),
                StepState::Pending => ("·", th.dim()),
                StepState::Skipped => ("–", th.dim()),
                StepState::Failed => ("✗", th.error()),
            };
            let took = s
                .elapsed_ms
                .map(|ms| format!(" {:.1}s", ms as f64 / 1000.0))
                .unwrap_or_default();
            lines.push(Line::from(vec![
                Span::styled(format!("{mark} {:>2}. ", n + 1), style),
                Span::raw(format!("{}{took}", s.name)),
            ]));
        }
        if let Some(Err(e)) = o.result() {
            lines.push(Line::from(Span::styled(app.error_line(&e), th.error())));
        }
    } else {
        lines.push(Line::from(Span::styled("no operation selected", th.dim())));
    }
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(th.border())
                .title(Span::styled(" steps ", th.title())),
        ),
        steps,
    );
}

//! The machines table: NAME DRIVER STATE HEALTH CPU MEM DISK LOAD DOCKER SWARM AGE,
//! narrower terminals drop the least needed columns first. Only visible rows are built.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Cell;
use ratatui::Frame;

use super::pct;
use crate::api::HealthStatus;
use crate::tui::app::{App, MCol, MachineRow};
use crate::tui::widgets::{list, Col};

/// The health columns, the same for a machine's row and a swarm node's row.
pub const HEALTH_COLS: [(MCol, Col); 6] = [
    (
        MCol::Health,
        Col {
            title: "HEALTH",
            width: 13,
            drop: 0,
        },
    ),
    (
        MCol::Cpu,
        Col {
            title: "CPU",
            width: 5,
            drop: 0,
        },
    ),
    (
        MCol::Mem,
        Col {
            title: "MEM",
            width: 5,
            drop: 0,
        },
    ),
    (
        MCol::Disk,
        Col {
            title: "DISK",
            width: 5,
            drop: 2,
        },
    ),
    (
        MCol::Load,
        Col {
            title: "LOAD",
            width: 5,
            drop: 4,
        },
    ),
    (
        MCol::Docker,
        Col {
            title: "DOCKER",
            width: 9,
            drop: 3,
        },
    ),
];

const COLS: [Col; 11] = [
    Col {
        title: "NAME",
        width: 14,
        drop: 0,
    },
    Col {
        title: "DRIVER",
        width: 9,
        drop: 5,
    },
    Col {
        title: "STATE",
        width: 12,
        drop: 0,
    },
    HEALTH_COLS[0].1,
    HEALTH_COLS[1].1,
    HEALTH_COLS[2].1,
    HEALTH_COLS[3].1,
    HEALTH_COLS[4].1,
    HEALTH_COLS[5].1,
    Col {
        title: "SWARM",
        width: 16,
        drop: 1,
    },
    Col {
        title: "AGE",
        width: 4,
        drop: 0,
    },
];

/// One health cell of a machine (None: not in the store, or not checked yet).
pub fn health_cell<'a>(
    th: &crate::tui::theme::Theme,
    r: Option<&MachineRow>,
    h: HealthStatus,
    col: MCol,
) -> Cell<'a> {
    match col {
        MCol::Health => Cell::from(th.health_text(h)).style(th.health(h)),
        MCol::Cpu => num(th, r.and_then(|r| r.cpu())),
        MCol::Mem => num(th, r.and_then(|r| r.mem())),
        MCol::Disk => num(th, r.and_then(|r| r.disk())),
        MCol::Load => Cell::from(
            r.and_then(|r| r.load())
                .map(|l| format!("{l:.1}"))
                .unwrap_or_else(|| "-".into()),
        ),
        MCol::Docker => Cell::from(r.map(|r| r.docker()).unwrap_or_else(|| "-".into())),
        _ => Cell::from(""),
    }
}

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.table_state();
    let th = &app.theme;
    let mut title = vec![Span::styled(
        format!(" machines ({}", t.rows.len()),
        th.title(),
    )];
    if t.rows.len() != app.model.machines.len() {
        title.push(Span::styled(
            format!("/{}", app.model.machines.len()),
            th.title(),
        ));
    }
    title.push(Span::styled(")", th.title()));
    if !t.filter.text.is_empty() {
        title.push(Span::raw(format!(" /{}", t.filter.text)));
    }
    if !t.marks.is_empty() {
        title.push(Span::styled(
            format!(" {} marked", t.marks.len()),
            th.marked(),
        ));
    }
    let col = MCol::ALL.get(t.sort).copied().unwrap_or(MCol::Name);
    title.push(Span::styled(
        format!(" sort: {}{} ", col.title(), if t.desc { "▼" } else { "▲" }),
        th.dim(),
    ));
    let model = &app.model;
    let now = app.now_ms;
    list(f, area, th, Line::from(title), &COLS, t, |i, keep| {
        let r = MachineRow::new(model, t.rows[i], now);
        let marked = t.marks.contains(&r.m.name);
        keep.iter()
            .map(|&c| match MCol::ALL[c] {
                MCol::Name => {
                    let mark = if marked { "●" } else { " " };
                    Cell::from(format!("{mark}{}", r.m.name)).style(if marked {
                        th.marked()
                    } else {
                        ratatui::style::Style::default()
                    })
                }
                MCol::Driver => Cell::from(r.m.driver.clone()),
                MCol::State => Cell::from(r.m.state.as_str()).style(th.state(r.m.state)),
                c @ (MCol::Health
                | MCol::Cpu
                | MCol::Mem
                | MCol::Disk
                | MCol::Load
                | MCol::Docker) => health_cell(th, Some(&r), r.health(), c),
                MCol::Swarm => Cell::from(r.swarm()),
                // In brief the creation time is not read yet.
                MCol::Age if app.model.in_brief() => Cell::from("-"),
                MCol::Age => Cell::from(app.age_since(r.m.created_ms)),
            })
            .collect()
    });
}

fn num<'a>(th: &crate::tui::theme::Theme, p: Option<f64>) -> Cell<'a> {
    let s = format!("{:>4}", pct(p));
    match p {
        Some(p) => Cell::from(s).style(th.percent(p)),
        None => Cell::from(s),
    }
}

//! Swarms: the list (NAME DRIVER MANAGERS WORKERS STATE LEADER, counts ready/desired)
//! and a swarm's detail: its nodes by role with their health, and its services.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph};
use ratatui::Frame;

use super::clock;
use super::machines::{health_cell, HEALTH_COLS};
use crate::api::{Role, Swarm};
use crate::tui::app::{sorted_nodes, App, MachineRow, SWARM_COLS};
use crate::tui::widgets::{fit_columns, list, list_title, table, Col};

const COLS: [Col; 6] = [
    Col {
        title: SWARM_COLS[0],
        width: 16,
        drop: 0,
    },
    Col {
        title: SWARM_COLS[1],
        width: 10,
        drop: 2,
    },
    Col {
        title: SWARM_COLS[2],
        width: 9,
        drop: 0,
    },
    Col {
        title: SWARM_COLS[3],
        width: 9,
        drop: 0,
    },
    Col {
        title: SWARM_COLS[4],
        width: 9,
        drop: 0,
    },
    Col {
        title: SWARM_COLS[5],
        width: 16,
        drop: 1,
    },
];

fn counts(s: &Swarm, role: Role) -> String {
    let desired = match role {
        Role::Manager => s.spec.managers,
        Role::Worker => s.spec.workers,
    };
    format!("{}/{}", s.ready(role), desired)
}

pub fn draw_list(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.theme;
    let t = &app.swarms;
    let title = list_title(format!(" swarms ({})", t.rows.len()), t);
    let swarms = &app.model.swarms;
    list(
        f,
        area,
        th,
        Line::from(Span::styled(title, th.title())),
        &COLS,
        t,
        |i, keep| {
            let s = &swarms[t.rows[i]];
            keep.iter()
                .map(|&c| match c {
                    0 => Cell::from(s.name.clone()),
                    1 => Cell::from(s.driver.clone()),
                    2 => Cell::from(counts(s, Role::Manager)),
                    3 => Cell::from(counts(s, Role::Worker)),
                    4 => Cell::from(s.state.as_str()).style(th.swarm_state(s.state)),
                    _ => Cell::from(s.leader.clone().unwrap_or_else(|| "-".into())),
                })
                .collect()
        },
    );
    if t.rows.is_empty() && area.height > 4 {
        let key = app.keymap.key_text(crate::tui::keymap::Action::Create);
        let msg = if key.is_empty() || app.gate(crate::tui::keymap::Action::Create).is_err() {
            " no swarms".to_string()
        } else {
            format!(" no swarms: press {key} to create one")
        };
        let r = Rect {
            x: area.x + 1,
            y: area.y + 2,
            width: area.width.saturating_sub(2),
            height: 1,
        };
        f.render_widget(Paragraph::new(msg).style(th.dim()), r);
    }
}

/// A node's swarm facts, then the same health columns as the machines table.
const NODE_COLS: [Col; 11] = [
    Col {
        title: "MACHINE",
        width: 14,
        drop: 0,
    },
    Col {
        title: "ROLE",
        width: 8,
        drop: 0,
    },
    Col {
        title: "STATUS",
        width: 8,
        drop: 0,
    },
    Col {
        title: "AVAIL",
        width: 7,
        drop: 2,
    },
    Col {
        title: "MANAGER",
        width: 11,
        drop: 1,
    },
    HEALTH_COLS[0].1,
    HEALTH_COLS[1].1,
    HEALTH_COLS[2].1,
    HEALTH_COLS[3].1,
    HEALTH_COLS[4].1,
    HEALTH_COLS[5].1,
];

const SVC_COLS: [Col; 4] = [
    Col {
        title: "SERVICE",
        width: 16,
        drop: 0,
    },
    Col {
        title: "MODE",
        width: 10,
        drop: 1,
    },
    Col {
        title: "REPLICAS",
        width: 9,
        drop: 0,
    },
    Col {
        title: "IMAGE",
        width: 30,
        drop: 0,
    },
];

/// A next decision older than this was not renewed by an autoscaler's round (5 s).
const NEXT_STALE_MS: i64 = 30_000;

pub fn draw_detail(app: &App, f: &mut Frame, area: Rect, name: &str) {
    let th = &app.theme;
    let detail = app
        .model
        .swarm_detail
        .as_ref()
        .filter(|d| d.swarm.name == name);
    let Some(swarm) = detail.map(|d| &d.swarm).or_else(|| app.model.swarm(name)) else {
        let p = Paragraph::new(format!(" swarm {name} is gone")).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" {name} ")),
        );
        f.render_widget(p, area);
        return;
    };
    let mut summary = vec![Line::from(vec![
        Span::styled(swarm.state.as_str(), th.swarm_state(swarm.state)),
        Span::raw(format!(
            " · managers {} · workers {} · leader {} · {}",
            counts(swarm, Role::Manager),
            counts(swarm, Role::Worker),
            swarm.leader.as_deref().unwrap_or("-"),
            swarm.driver
        )),
    ])];
    if let Some(e) = &swarm.error {
        summary.push(Line::from(Span::styled(e.clone(), th.error())));
    }
    for r in swarm.report.iter().take(2) {
        summary.push(Line::from(Span::styled(r.clone(), th.warn())));
    }
    // The autoscaling policy and its newest decision, with why.
    if let Some(a) = detail.and_then(|d| d.autoscale.as_ref()) {
        if let Some(p) = &a.policy {
            summary.push(Line::from(vec![
                Span::styled("autoscale ", th.title()),
                Span::raw(p.describe()),
            ]));
        }
        if let Some(d) = a.decisions.first() {
            let tag = if d.dry_run {
                " (dry run)"
            } else if d.acted {
                " (acted)"
            } else {
                ""
            };
            summary.push(Line::from(vec![
                Span::styled(format!("{} ", clock(d.time_ms, app.settings.utc)), th.dim()),
                Span::raw(format!("{}{tag}", d.reason)),
            ]));
        }
        // The next decision: what the rule decides from the latest look, and why.
        if let (Some(p), Some(n)) = (&a.policy, &a.next) {
            let tag = if n.acts {
                " (acting)"
            } else if p.dry_run && n.action != crate::api::AutoscaleAction::None {
                " (dry run)"
            } else {
                ""
            };
            let mut line = vec![
                Span::styled("next ", th.title()),
                Span::styled(
                    format!("(looked {} ago) ", app.age_since(n.time_ms)),
                    th.dim(),
                ),
                Span::raw(format!("{}{tag}", n.reason)),
            ];
            if app.now_ms - n.time_ms > NEXT_STALE_MS {
                line.push(Span::styled(
                    " · no autoscaler looked since: a server runs one, locally `flotilla autoscale run`",
                    th.warn(),
                ));
            }
            summary.push(Line::from(line));
        }
    }
    let sh = summary.len() as u16 + 2;
    let [top, nodes_area, svc_area] = Layout::vertical([
        Constraint::Length(sh),
        Constraint::Min(4),
        Constraint::Length(((area.height.saturating_sub(sh)) / 3).max(4)),
    ])
    .areas(area);
    f.render_widget(
        Paragraph::new(summary).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(th.border())
                .title(Span::styled(format!(" swarm {name} "), th.title())),
        ),
        top,
    );

    let nodes = sorted_nodes(swarm);
    let keep = fit_columns(&NODE_COLS, nodes_area.width.saturating_sub(2));
    let h = nodes_area.height.saturating_sub(3) as usize;
    let sel = app.pane_sel[0].min(nodes.len().saturating_sub(1));
    let start = sel.saturating_sub(h.saturating_sub(1));
    let end = (start + h).min(nodes.len());
    let model = &app.model;
    table(
        f,
        nodes_area,
        th,
        Line::from(Span::styled(
            format!(" nodes ({}) ", nodes.len()),
            th.title(),
        )),
        &NODE_COLS,
        &keep,
        None,
        start..end,
        (app.pane == 0).then_some(sel),
        app.pane == 0,
        |i| {
            let n = nodes[i];
            let row = model
                .machines
                .binary_search_by(|m| m.name.as_str().cmp(&n.machine))
                .ok()
                .map(|idx| MachineRow::new(model, idx, app.now_ms));
            let health = model.health_of(&n.machine);
            keep.iter()
                .map(|&c| match c {
                    0 => Cell::from(n.machine.clone()),
                    1 => Cell::from(n.role.as_str()),
                    2 => Cell::from(n.status.clone().unwrap_or_else(|| "-".into())),
                    3 => Cell::from(n.availability.clone().unwrap_or_else(|| "-".into())),
                    4 => Cell::from(if n.leader {
                        "leader".to_string()
                    } else {
                        n.reachability.clone().unwrap_or_else(|| "-".into())
                    }),
                    c => health_cell(th, row.as_ref(), health, HEALTH_COLS[c - 5].0),
                })
                .collect()
        },
    );

    let services = detail.map(|d| d.services.clone());
    match services {
        Some(Ok(svcs)) => {
            let keep = fit_columns(&SVC_COLS, svc_area.width.saturating_sub(2));
            let h = svc_area.height.saturating_sub(3) as usize;
            let sel = app.pane_sel[1].min(svcs.len().saturating_sub(1));
            let start = sel.saturating_sub(h.saturating_sub(1));
            let end = (start + h).min(svcs.len());
            table(
                f,
                svc_area,
                th,
                Line::from(Span::styled(
                    format!(" services ({}) ", svcs.len()),
                    th.title(),
                )),
                &SVC_COLS,
                &keep,
                None,
                start..end,
                (app.pane == 1).then_some(sel),
                app.pane == 1,
                |i| {
                    let s = &svcs[i];
                    let rep = format!("{}/{}", s.running, s.desired);
                    let style = if s.running < s.desired {
                        th.warn()
                    } else {
                        ratatui::style::Style::default()
                    };
                    keep.iter()
                        .map(|&c| match c {
                            0 => Cell::from(s.name.clone()),
                            1 => Cell::from(s.mode.as_str()),
                            2 => Cell::from(rep.clone()).style(style),
                            _ => Cell::from(s.image.clone()),
                        })
                        .collect()
                },
            );
        }
        other => {
            let text = match other {
                Some(Err(e)) => format!(" services: {e}"),
                _ => " services: loading…".to_string(),
            };
            f.render_widget(
                Paragraph::new(text).style(th.dim()).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .border_style(if app.pane == 1 {
                            th.focused_border()
                        } else {
                            th.border()
                        })
                        .title(" services "),
                ),
                svc_area,
            );
        }
    }
}

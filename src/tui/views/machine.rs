//! A machine's detail: facts on the left, live health on the right (sparklines of the
//! monitor's recent samples, disk gauges, reasons), its recent events below. Side by
//! side from 120 columns, stacked below that.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use super::{age, bytes, event_line, pct};
use crate::api::{HealthSample, HealthStatus};
use crate::tui::app::App;
use crate::tui::widgets::{bar, cut, spark};

pub fn draw(app: &App, f: &mut Frame, area: Rect, name: &str) {
    let th = &app.theme;
    let Some(m) = app.model.machine(name) else {
        let p = Paragraph::new(format!(" {name} is gone (removed)")).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(th.border())
                .title(format!(" {name} ")),
        );
        f.render_widget(p, area);
        return;
    };
    let h = app.model.health.get(name);
    let status = h.map(|h| h.status).unwrap_or(HealthStatus::Unknown);
    let wide = area.width >= 120;
    let (info_area, health_area, events_area) = if wide {
        let [top, bottom] =
            Layout::vertical([Constraint::Min(12), Constraint::Length(8)]).areas(area);
        let [a, b] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
        (a, b, bottom)
    } else {
        let [a, b, c] = Layout::vertical([
            Constraint::Length(9),
            Constraint::Min(8),
            Constraint::Length(4),
        ])
        .areas(area);
        (a, b, c)
    };
    let border = |p: usize| {
        if app.pane == p {
            th.focused_border()
        } else {
            th.border()
        }
    };

    // Facts.
    let mut title = vec![Span::styled(format!(" {name} · "), th.title())];
    title.push(Span::styled(th.health_text(status), th.health(status)));
    if let Some(h) = h {
        if !h.reasons.is_empty() {
            title.push(Span::styled(
                format!(": {}", h.reasons_line()),
                th.health(status),
            ));
        }
    }
    title.push(Span::raw(" "));
    let kv = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<9} "), th.dim()),
            Span::raw(v),
        ])
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{:<9} ", "state"), th.dim()),
            Span::styled(m.state.as_str(), th.state(m.state)),
            Span::raw(format!(" (seen {} ago)", app.age_since(m.observed_ms))),
        ]),
        kv("url", m.url.clone().unwrap_or_else(|| "-".into())),
        kv("ip", m.ip.clone().unwrap_or_else(|| "-".into())),
        kv(
            "driver",
            match &m.spec.container.image {
                Some(i) => format!("{} ({i})", m.driver),
                None => m.driver.clone(),
            },
        ),
        kv(
            "docker",
            match (&m.docker_version, h.and_then(|h| h.docker.as_ref())) {
                (v, Some(d)) => format!(
                    "{} · {} running",
                    v.clone().unwrap_or_else(|| d.version.clone()),
                    d.containers_running
                ),
                (Some(v), None) => v.clone(),
                (None, None) => "-".into(),
            },
        ),
        kv(
            "swarm",
            match (&m.swarm, h.and_then(|h| h.swarm.as_ref())) {
                (Some(s), Some(n)) => format!(
                    "{s} ({}, {}, {}{})",
                    n.role,
                    n.status,
                    n.availability,
                    if n.leader { ", leader" } else { "" }
                ),
                (Some(s), None) => s.clone(),
                (None, _) => "-".into(),
            },
        ),
    ];
    if app.model.in_brief() {
        // Only the list in brief is read so far: what it lacks is not shown as a fact.
        lines.push(Line::from(Span::styled(
            "reading the full record…",
            th.dim(),
        )));
    } else {
        lines.extend([
            kv("engine", engine_text(&m.spec.engine)),
            kv(
                "ssh",
                format!(
                    "{}@{}:{}",
                    m.ssh_user,
                    m.ip.as_deref().unwrap_or("?"),
                    m.ssh_port
                ),
            ),
            kv("created", format!("{} ago", app.age_since(m.created_ms))),
        ]);
    }
    if let Some(e) = &m.error {
        lines.push(Line::from(Span::styled(
            format!("error     {e}"),
            th.error(),
        )));
    }
    let info = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((
            if app.pane == 0 {
                app.pane_sel[0] as u16
            } else {
                0
            },
            0,
        ))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(border(0))
                .title(Line::from(title)),
        );
    f.render_widget(info, info_area);

    // Health.
    let samples: &[HealthSample] = match &app.model.history {
        Some((n, s)) if n == name => s,
        _ => &[],
    };
    let w = (health_area.width as usize).saturating_sub(24).clamp(4, 60);
    let series = |get: fn(&HealthSample) -> Option<f32>| -> Vec<Option<f32>> {
        samples.iter().map(get).collect()
    };
    let metrics = h.and_then(|h| h.metrics.as_ref());
    let last = samples.last();
    let mut hl = vec![
        Line::from(vec![
            Span::styled("CPU  ", th.dim()),
            Span::styled(
                spark(&series(|s| s.cpu_percent), w, Some(100.0)),
                th.spark(),
            ),
            Span::raw(format!(
                " {}",
                pct(metrics
                    .and_then(|m| m.cpu_percent)
                    .or(last.and_then(|s| s.cpu_percent.map(f64::from))))
            )),
        ]),
        Line::from(vec![
            Span::styled("MEM  ", th.dim()),
            Span::styled(
                spark(&series(|s| s.mem_percent), w, Some(100.0)),
                th.spark(),
            ),
            Span::raw(format!(
                " {}{}",
                pct(metrics
                    .and_then(|m| m.mem_percent())
                    .or(last.and_then(|s| s.mem_percent.map(f64::from)))),
                metrics
                    .and_then(|m| m.mem_total_bytes)
                    .map(|t| format!(" of {}", bytes(t)))
                    .unwrap_or_default()
            )),
        ]),
        Line::from(vec![
            Span::styled("LOAD ", th.dim()),
            Span::styled(spark(&series(|s| s.load1), w, None), th.spark()),
            Span::raw(
                metrics
                    .and_then(|m| m.load)
                    .map(|l| format!(" {:.1} {:.1} {:.1}", l[0], l[1], l[2]))
                    .unwrap_or_else(|| " -".into()),
            ),
        ]),
        Line::from(vec![
            Span::styled("SSH  ", th.dim()),
            Span::styled(spark(&series(|s| s.ssh_rtt_ms), w, None), th.spark()),
            Span::raw(
                h.and_then(|h| h.ssh_rtt_ms)
                    .map(|r| format!(" {r:.0} ms"))
                    .unwrap_or_else(|| " -".into()),
            ),
        ]),
    ];
    for (label, d) in [
        ("/", metrics.and_then(|m| m.disk_root.as_ref())),
        ("docker", metrics.and_then(|m| m.disk_docker.as_ref())),
    ] {
        if let Some(d) = d {
            let p = d.percent();
            hl.push(Line::from(vec![
                Span::styled(format!("{:<5}", cut(label, 5)), th.dim()),
                Span::styled(bar(p, w.saturating_sub(2)), th.gauge(p)),
                Span::raw(format!(" {p:.0}% of {}", bytes(d.total_bytes))),
            ]));
        }
    }
    if samples.is_empty() {
        hl.push(Line::from(Span::styled(
            "no samples yet (the monitor fills this)",
            th.dim(),
        )));
    }
    if let Some(h) = h {
        for r in &h.reasons {
            hl.push(Line::from(Span::styled(
                format!("! {r}"),
                th.health(status),
            )));
        }
        if h.checked_ms > 0 {
            hl.push(Line::from(Span::styled(
                format!("checked {} ago", app.age_since(h.checked_ms)),
                th.dim(),
            )));
        }
    }
    let span_secs = match (samples.first(), samples.last()) {
        (Some(a), Some(b)) => (b.time_ms - a.time_ms) / 1000,
        _ => 0,
    };
    let health = Paragraph::new(hl).block(
        Block::default()
            .borders(Borders::ALL)
            .border_style(border(1))
            .title(Span::styled(
                format!(" health · last {} ", age(span_secs * 1000)),
                th.title(),
            )),
    );
    f.render_widget(health, health_area);

    // Events of this machine, newest first.
    let evs: Vec<Line> = app
        .model
        .events
        .iter()
        .rev()
        .filter(|e| e.kind.target() == name)
        .skip(if app.pane == 2 { app.pane_sel[2] } else { 0 })
        .take(events_area.height.saturating_sub(2) as usize)
        .map(|e| event_line(app, e, false))
        .collect();
    let events = Paragraph::new(evs).block(
        Block::default()
            .borders(Borders::ALL)
            .border_style(border(2))
            .title(Span::styled(format!(" events · {name} "), th.title())),
    );
    f.render_widget(events, events_area);
}

fn engine_text(e: &crate::api::EngineOptions) -> String {
    let mut parts = Vec::new();
    if !e.labels.is_empty() {
        parts.push(format!("labels {}", e.labels.join(" ")));
    }
    if let Some(s) = &e.storage_driver {
        parts.push(format!("storage {s}"));
    }
    if !e.registry_mirrors.is_empty() {
        parts.push(format!("mirrors {}", e.registry_mirrors.join(" ")));
    }
    if !e.insecure_registries.is_empty() {
        parts.push(format!("insecure {}", e.insecure_registries.join(" ")));
    }
    for (k, v) in &e.opts {
        parts.push(format!("{k}={v}"));
    }
    if parts.is_empty() {
        "defaults".into()
    } else {
        parts.join("; ")
    }
}

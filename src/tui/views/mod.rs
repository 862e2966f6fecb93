//! Drawing: one frame is a header line, the current view, and a footer line; dialogs
//! and help draw over it. Everything here reads `&App` and does no I/O, so the same
//! frame comes out of the same state (the snapshot tests rely on it).

mod dialogs;
mod events;
mod help;
mod machine;
mod machines;
mod ops;
mod swarms;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::app::{App, Level, Mode, View};
use super::widgets::{cut, key_line};
use crate::api::{Event, EventKind, HealthStatus};

pub use help::help_lines;

pub fn draw(app: &App, f: &mut Frame) {
    let area = f.area();
    if area.height < 3 || area.width < 10 {
        f.render_widget(Paragraph::new("flotilla: too small"), area);
        return;
    }
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header(app, f, top);
    match app.view() {
        View::Machines => machines::draw(app, f, body),
        View::Machine(name) => machine::draw(app, f, body, name),
        View::Swarms => swarms::draw_list(app, f, body),
        View::Swarm(name) => swarms::draw_detail(app, f, body, name),
        View::Events => events::draw(app, f, body),
        View::Ops => ops::draw(app, f, body),
    }
    footer(app, f, bottom, body);
    match &app.mode {
        Mode::Dialog(d) => dialogs::draw(app, f, body, d),
        Mode::Help(scroll) => help::draw(app, f, body, *scroll),
        _ => {}
    }
}

fn header(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    if let Some((since, _)) = &app.model.unreachable {
        let from = if app.model.updated_ms > 0 {
            clock(app.model.updated_ms, app.settings.utc)
        } else {
            "—".to_string()
        };
        let what = if app.backend.as_ref().is_some_and(|b| !b.is_local()) {
            "server"
        } else {
            "fleet"
        };
        let text = format!(
            " {what} unreachable · retrying · showing data from {from} (stale for {})",
            app.age_since(*since)
        );
        f.render_widget(
            Paragraph::new(cut(&text, area.width as usize)).style(t.banner()),
            area,
        );
        return;
    }
    let mut spans = vec![Span::styled(" flotilla", t.title()), Span::raw(" · ")];
    match &app.backend {
        Some(b) if b.is_local() => spans.push(Span::raw("local")),
        Some(b) => spans.push(Span::raw(format!(
            "{} · {} ({})",
            b.location,
            b.user.as_deref().unwrap_or("?"),
            b.role
        ))),
        None => spans.push(Span::styled("connecting…", t.dim())),
    }
    if app.settings.readonly {
        spans.push(Span::styled(" [read-only]", t.warn()));
    }
    let m = &app.model;
    spans.push(Span::raw(format!(" · {} machines", m.machines.len())));
    let c = &app.health_counts;
    let counts = [c.healthy, c.degraded, c.unreachable, c.stopped];
    // Words on wide terminals; markers (colored when colors are on) on narrow ones.
    let wide = area.width >= 120;
    for (n, h) in counts.iter().zip([
        HealthStatus::Healthy,
        HealthStatus::Degraded,
        HealthStatus::Unreachable,
        HealthStatus::Stopped,
    ]) {
        if *n > 0 || h == HealthStatus::Healthy {
            let text = if wide {
                format!(" {n} {}", t.health_text(h))
            } else {
                format!(" {n}{}", super::theme::marker(h))
            };
            spans.push(Span::styled(text, t.health(h)));
        }
    }
    spans.push(Span::raw(if wide {
        format!(" · {} swarms · {} ops", m.swarms.len(), m.running_ops())
    } else {
        format!(" · {}sw · {}op", m.swarms.len(), m.running_ops())
    }));
    let fresh = format!("{} ", app.freshness());
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let pad = (area.width as usize).saturating_sub(used + fresh.chars().count());
    spans.push(Span::raw(" ".repeat(pad)));
    spans.push(Span::styled(fresh, t.dim()));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn footer(app: &App, f: &mut Frame, area: Rect, body: Rect) {
    let t = &app.theme;
    match &app.mode {
        Mode::Command(input) => {
            let c = app.completions(&input.text);
            if !c.is_empty() && !input.text.is_empty() && body.height > 2 {
                let shown: Vec<&str> = c.iter().take(12).map(String::as_str).collect();
                let line = cut(&format!(" {}", shown.join("  ")), area.width as usize);
                let r = Rect {
                    y: area.y - 1,
                    height: 1,
                    ..area
                };
                f.render_widget(Clear, r);
                f.render_widget(Paragraph::new(line).style(t.dim()), r);
            }
            f.render_widget(Paragraph::new(format!(":{}", input.text)), area);
            f.set_cursor_position((area.x + 1 + input.cursor as u16, area.y));
        }
        Mode::Filter(input) => {
            f.render_widget(Paragraph::new(format!("/{}", input.text)), area);
            f.set_cursor_position((area.x + 1 + input.cursor as u16, area.y));
        }
        _ => {
            if let Some((msg, level)) = &app.status {
                let style = match level {
                    Level::Error => t.error(),
                    Level::Info => t.ok(),
                };
                f.render_widget(
                    Paragraph::new(cut(&format!(" {msg}"), area.width as usize)).style(style),
                    area,
                );
                return;
            }
            let pairs: Vec<(String, &str)> = app
                .visible_actions()
                .into_iter()
                .filter(|a| {
                    !matches!(
                        a,
                        super::keymap::Action::Up
                            | super::keymap::Action::Down
                            | super::keymap::Action::Top
                            | super::keymap::Action::Bottom
                            | super::keymap::Action::PageUp
                            | super::keymap::Action::PageDown
                    )
                })
                .map(|a| (app.keymap.key_text(a), app.label(a)))
                .collect();
            f.render_widget(Paragraph::new(key_line(t, &pairs, area.width)), area);
        }
    }
}

/// `3s`, `5m`, `2h`, `3d`: the largest whole unit.
pub fn age(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// How old `since` is at `now` (Unix ms), as shown (`3s`, `5m`, `2h`, `3d`), and when
/// that text changes (Unix ms). It counts the clock's whole seconds, minutes, hours or
/// days (UTC) passed between the two, not the exact span, so every age on screen
/// changes at the same moments (a new second, minute, ...): a screen of ages costs one
/// frame per second or minute, not one per row. It can read one unit more than the
/// exact span (like a calendar's "yesterday").
pub fn age_at(since: i64, now: i64) -> (String, i64) {
    const UNITS: [(i64, i64, &str); 4] = [
        (1_000, 60, "s"),
        (60_000, 60, "m"),
        (3_600_000, 24, "h"),
        (86_400_000, i64::MAX, "d"),
    ];
    let passed = |unit: i64| now.div_euclid(unit) - since.div_euclid(unit);
    if passed(1_000) <= 0 {
        // `0s` (a time in the future too) until the clock's next second after it.
        return ("0s".into(), (since.div_euclid(1_000) + 1) * 1_000);
    }
    for (unit, limit, suffix) in UNITS {
        let n = passed(unit);
        if n < limit {
            return (format!("{n}{suffix}"), (now.div_euclid(unit) + 1) * unit);
        }
    }
    unreachable!("days have no limit")
}

/// HH:MM:SS of a Unix ms time, local (or UTC for tests, so snapshots hold anywhere).
pub fn clock(ms: i64, utc: bool) -> String {
    let secs = ms.div_euclid(1000);
    let offset = if utc { 0 } else { local_offset(secs) };
    let day = (secs + offset).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
}

/// The local time zone's offset from UTC at `secs`, in seconds.
fn local_offset(secs: i64) -> i64 {
    let t = secs as libc::time_t;
    // SAFETY: localtime_r writes only into `tm`, which lives on this stack frame.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if ok {
        tm.tm_gmtoff
    } else {
        0
    }
}

pub fn pct(p: Option<f64>) -> String {
    p.map(|p| format!("{p:.0}%")).unwrap_or_else(|| "-".into())
}

pub fn bytes(b: u64) -> String {
    let g = b as f64 / (1u64 << 30) as f64;
    if g >= 1.0 {
        format!("{g:.1}G")
    } else {
        format!("{:.0}M", b as f64 / (1u64 << 20) as f64)
    }
}

/// The event's type as the wire names it.
pub fn event_type(k: &EventKind) -> &'static str {
    match k {
        EventKind::MachineCreated { .. } => "machine_created",
        EventKind::MachineRemoved { .. } => "machine_removed",
        EventKind::MachineStateChanged { .. } => "machine_state_changed",
        EventKind::OperationStarted { .. } => "operation_started",
        EventKind::OperationProgress { .. } => "operation_progress",
        EventKind::OperationFinished { .. } => "operation_finished",
        EventKind::OperationOutput { .. } => "operation_output",
        EventKind::HealthChanged { .. } => "health_changed",
        EventKind::SwarmNodeJoined { .. } => "swarm_node_joined",
        EventKind::SwarmNodeLeft { .. } => "swarm_node_left",
        EventKind::AutoscaleDecided { .. } => "autoscale_decided",
    }
}

/// What the event says, after its type and target.
pub fn event_text(e: &Event) -> String {
    match &e.kind {
        EventKind::MachineCreated { .. } => "created".into(),
        EventKind::MachineRemoved { .. } => "removed".into(),
        EventKind::MachineStateChanged { from, to, .. } => format!("{from} -> {to}"),
        EventKind::OperationStarted { operation } => {
            format!("{} started", operation.kind.as_str())
        }
        EventKind::OperationProgress {
            step,
            total,
            name,
            done,
            ..
        } => format!(
            "step {step}/{total} {name}{}",
            if *done { " done" } else { "…" }
        ),
        EventKind::OperationOutput { line, .. } => format!("| {line}"),
        EventKind::OperationFinished { operation } => {
            let took = operation
                .finished_ms
                .map(|f| format!(" in {:.1}s", (f - operation.started_ms) as f64 / 1000.0))
                .unwrap_or_default();
            match operation.result() {
                Some(Err(e)) => format!("{} failed{took}: {e}", operation.kind.as_str()),
                _ => format!("{} succeeded{took}", operation.kind.as_str()),
            }
        }
        EventKind::HealthChanged {
            from, to, reasons, ..
        } => {
            if reasons.is_empty() {
                format!("{from} -> {to}")
            } else {
                format!("{from} -> {to}: {}", reasons.join("; "))
            }
        }
        EventKind::SwarmNodeJoined { swarm, role, .. } => format!("joined {swarm} as {role}"),
        EventKind::SwarmNodeLeft { swarm, forced, .. } => {
            format!("left {swarm}{}", if *forced { " (forced)" } else { "" })
        }
        EventKind::AutoscaleDecided {
            reason, dry_run, ..
        } => format!(
            "autoscaler{}: {reason}",
            if *dry_run { " (dry run)" } else { "" }
        ),
    }
}

/// The style of an event line: health changes in the new health's color.
pub fn event_style(app: &App, e: &Event) -> Style {
    match &e.kind {
        EventKind::HealthChanged { to, .. } => app.theme.health(*to),
        EventKind::OperationFinished { operation }
            if operation.result().is_some_and(|r| r.is_err()) =>
        {
            app.theme.error()
        }
        _ => Style::default(),
    }
}

/// One event as a line: time, type, target, text.
pub fn event_line<'a>(app: &App, e: &Event, with_target: bool) -> Line<'a> {
    let mut spans = vec![
        Span::styled(clock(e.time_ms, app.settings.utc), app.theme.dim()),
        Span::raw(" "),
        Span::raw(format!("{:<21}", event_type(&e.kind))),
    ];
    if with_target {
        spans.push(Span::raw(format!(" {:<14}", e.kind.target())));
    }
    spans.push(Span::styled(
        format!(" {}", event_text(e)),
        event_style(app, e),
    ));
    Line::from(spans)
}

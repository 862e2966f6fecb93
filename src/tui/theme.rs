//! Colors and markers. Only the 16 ANSI colors are used, so every terminal shows the
//! same thing; with NO_COLOR nothing is colored and health carries a marker instead
//! (`✓ ! ✗ –`), so the meaning never rests on color alone.

use ratatui::style::{Color, Modifier, Style};

use crate::api::{HealthStatus, MachineState, SwarmState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// Colors unless NO_COLOR is set to anything non-empty (no-color.org).
    /// The binary's edge decides (NO_COLOR); the TUI reads no environment itself.
    pub fn new(color: bool) -> Theme {
        Theme { color }
    }
    pub fn color() -> Theme {
        Theme { color: true }
    }
    pub fn plain() -> Theme {
        Theme { color: false }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn health(&self, h: HealthStatus) -> Style {
        match h {
            HealthStatus::Healthy => self.fg(Color::Green),
            HealthStatus::Degraded => self.fg(Color::Yellow),
            HealthStatus::Unreachable => self.fg(Color::Red),
            HealthStatus::Stopped => self.fg(Color::DarkGray),
            HealthStatus::Unknown => self.fg(Color::Gray),
        }
    }

    /// The health word, with its marker when colors are off.
    pub fn health_text(&self, h: HealthStatus) -> String {
        if self.color {
            h.as_str().to_string()
        } else {
            format!("{} {}", marker(h), h.as_str())
        }
    }

    pub fn state(&self, s: MachineState) -> Style {
        match s {
            MachineState::Running => self.fg(Color::Green),
            MachineState::Stopped | MachineState::Gone => self.fg(Color::DarkGray),
            MachineState::Error => self.fg(Color::Red),
            MachineState::Creating | MachineState::Provisioning | MachineState::Removing => {
                self.fg(Color::Cyan)
            }
        }
    }

    pub fn swarm_state(&self, s: SwarmState) -> Style {
        match s {
            SwarmState::Ready => self.fg(Color::Green),
            SwarmState::Degraded => self.fg(Color::Yellow),
            SwarmState::Creating | SwarmState::Scaling | SwarmState::Removing => {
                self.fg(Color::Cyan)
            }
        }
    }

    /// k9s' thresholds: yellow from 70 %, red from 90 %.
    pub fn percent(&self, p: f64) -> Style {
        if p >= 90.0 {
            self.fg(Color::Red)
        } else if p >= 70.0 {
            self.fg(Color::Yellow)
        } else {
            Style::default()
        }
    }

    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn header(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default().add_modifier(Modifier::DIM)
        }
    }
    /// The selected row: reversed works with and without colors.
    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }
    pub fn marked(&self) -> Style {
        self.fg(Color::Magenta).add_modifier(Modifier::BOLD)
    }
    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn banner(&self) -> Style {
        if self.color {
            Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }
    pub fn border(&self) -> Style {
        self.fg(Color::Blue)
    }
    pub fn focused_border(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn gauge(&self, p: f64) -> Style {
        if self.color {
            let c = if p >= 90.0 {
                Color::Red
            } else if p >= 70.0 {
                Color::Yellow
            } else {
                Color::Green
            };
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }
    pub fn spark(&self) -> Style {
        self.fg(Color::Cyan)
    }
}

/// The marker of a health status: readable without color.
pub fn marker(h: HealthStatus) -> &'static str {
    match h {
        HealthStatus::Healthy => "✓",
        HealthStatus::Degraded => "!",
        HealthStatus::Unreachable => "✗",
        HealthStatus::Stopped => "–",
        HealthStatus::Unknown => "?",
    }
}

//! flotilla: create, provision, watch and scale Docker hosts and Swarm clusters.
//!
//! The faces (`cli`) hold only an `Arc<dyn api::Fleet>`; `engine::Local` implements it.

pub mod api;
pub mod cli;
pub mod client;
pub mod docker;
pub mod drivers;
pub mod engine;
pub mod paths;
pub mod prompt;
pub mod provision;
pub mod server;
pub mod settings;
pub mod ssh;
pub mod store;
pub mod tui;

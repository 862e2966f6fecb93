//! CLI (in progress)

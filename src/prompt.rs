//! The one y/N question a command asks before it acts (the CLI's removals, `login`'s
//! certificate check). It refuses without a terminal, so a script must say yes with
//! its flag and never hangs on a question nobody sees.

use std::io::{BufRead, IsTerminal, Write};

/// Why a command did not go on.
#[derive(Debug, thiserror::Error)]
pub enum Declined {
    #[error(
        "refusing to go on without confirmation: stdin is not a terminal; pass {flag} to confirm"
    )]
    NoTerminal { flag: &'static str },
    #[error("{0}")]
    No(String),
    #[error("cannot read the answer: {0}")]
    Io(#[from] std::io::Error),
}

/// Asks `question` on stderr and reads a line from stdin: Ok when it is y or yes.
/// `flag` is what confirms without asking (`-y`); `declined` is said on no.
pub fn confirm(question: &str, flag: &'static str, declined: &str) -> Result<(), Declined> {
    if !std::io::stdin().is_terminal() {
        return Err(Declined::NoTerminal { flag });
    }
    eprint!("{question}");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(Declined::No(declined.to_string()))
    }
}

//! A running step's output, as the operation's output lines: raw bytes from a host in,
//! bounded lines out (`EventKind::OperationOutput`), so a chatty install script can
//! neither flood the event log nor hold a line in memory without end.

use crate::api::{MAX_OUTPUT_LINES, MAX_OUTPUT_LINE_CHARS};

/// Splits bytes into lines and hands each to `sink`: `\n` and `\r` end a line (progress
/// meters redraw with `\r`), blank lines are dropped, a long line is cut and marked with
/// `…`, and after `MAX_OUTPUT_LINES` lines one last line says where the rest is.
pub(crate) struct OutputLines<F: FnMut(String)> {
    sink: F,
    pending: Vec<u8>,
    sent: usize,
    /// Where the whole output can be read (a log file on the host).
    rest_in: String,
}

/// Bytes kept of one line: enough for MAX_OUTPUT_LINE_CHARS characters of any UTF-8.
const MAX_PENDING: usize = MAX_OUTPUT_LINE_CHARS * 4;

impl<F: FnMut(String)> OutputLines<F> {
    pub fn new(rest_in: &str, sink: F) -> Self {
        OutputLines {
            sink,
            pending: Vec::new(),
            sent: 0,
            rest_in: rest_in.to_string(),
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\n' | b'\r' => self.flush(),
                _ if self.pending.len() < MAX_PENDING => self.pending.push(b),
                // The rest of an overlong line is dropped; the log has it.
                _ => {}
            }
        }
    }

    /// Sends what is left of an unterminated last line.
    pub fn finish(&mut self) {
        self.flush();
    }

    fn flush(&mut self) {
        let raw = std::mem::take(&mut self.pending);
        let text = String::from_utf8_lossy(&raw);
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        if self.sent < MAX_OUTPUT_LINES {
            let line = match text.char_indices().nth(MAX_OUTPUT_LINE_CHARS) {
                Some((cut, _)) => format!("{}…", &text[..cut]),
                None => text.to_string(),
            };
            (self.sink)(line);
        } else if self.sent == MAX_OUTPUT_LINES {
            (self.sink)(format!(
                "… more output than {MAX_OUTPUT_LINES} lines: the whole of it is in {}",
                self.rest_in
            ));
        }
        self.sent = self.sent.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(chunks: &[&[u8]]) -> Vec<String> {
        let mut got = Vec::new();
        let mut out = OutputLines::new("/var/log/x.log", |l| got.push(l));
        for c in chunks {
            out.feed(c);
        }
        out.finish();
        got
    }

    #[test]
    fn lines_are_split_across_chunks_and_blank_ones_dropped() {
        let got = lines_of(&[b"Readi", b"ng package lists...\n\n", b"50%\r100%\r\nlast"]);
        assert_eq!(got, ["Reading package lists...", "50%", "100%", "last"]);
    }

    #[test]
    fn long_lines_are_cut_and_the_count_is_bounded() {
        let long = "é".repeat(MAX_OUTPUT_LINE_CHARS * 3);
        let got = lines_of(&[long.as_bytes(), b"\n"]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].chars().count(), MAX_OUTPUT_LINE_CHARS + 1);
        assert!(got[0].ends_with('…'));

        let many = "line\n".repeat(MAX_OUTPUT_LINES + 50);
        let got = lines_of(&[many.as_bytes()]);
        assert_eq!(got.len(), MAX_OUTPUT_LINES + 1);
        assert!(
            got[MAX_OUTPUT_LINES].contains("/var/log/x.log"),
            "{}",
            got[MAX_OUTPUT_LINES]
        );
    }

    #[test]
    fn invalid_utf8_is_shown_not_dropped() {
        let got = lines_of(&[b"bad \xff byte\n"]);
        assert_eq!(got, ["bad \u{fffd} byte"]);
    }
}

//! Reading a recorded stream line by line with a hard limit on line length, so that a corrupt
//! or hostile file cannot make the reader allocate without bound.

use std::io::{self, BufRead};

/// The default limit on one line of a recorded stream: 64 KiB. A venue snapshot with about
/// 300 open orders fits; larger ones raise the limit with `--max-line-bytes`.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024;

/// UTF-8's byte order mark, which some editors write at the start of a file: ignored there.
const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// One line of input, or why it could not be read as one.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line (without its line ending), valid UTF-8.
    Text(String),
    /// A line longer than the limit; its bytes were skipped up to the next line ending.
    Oversized {
        /// How long it was, in bytes.
        length: usize,
    },
    /// A line that is not valid UTF-8.
    NotUtf8,
}

/// Reads lines of at most `max_line_bytes` bytes, numbering them from 1.
#[derive(Debug)]
pub struct BoundedLines<R> {
    reader: R,
    max_line_bytes: usize,
    number: usize,
    buffer: Vec<u8>,
}

impl<R: BufRead> BoundedLines<R> {
    /// Wraps `reader`.
    pub fn new(reader: R, max_line_bytes: usize) -> Self {
        Self {
            reader,
            max_line_bytes,
            number: 0,
            buffer: Vec::new(),
        }
    }

    /// The next line and its number, `None` at the end of input.
    ///
    /// # Errors
    ///
    /// An I/O error from the underlying reader.
    pub fn next_line(&mut self) -> io::Result<Option<(usize, Line)>> {
        self.buffer.clear();
        // The line ending's `\r` is not part of the line, so one byte past the limit is kept
        // in case it is that `\r`; and on the first line, a byte order mark.
        let first = self.number == 0;
        let allowance = if first { 1 + BYTE_ORDER_MARK.len() } else { 1 };
        let keep = self.max_line_bytes.saturating_add(allowance);
        let mut length = 0_usize;
        let mut last_byte = None;
        let mut saw_any = false;
        loop {
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                break;
            }
            saw_any = true;
            let (chunk, consumed, done) = match available.iter().position(|&byte| byte == b'\n') {
                Some(end) => (&available[..end], end + 1, true),
                None => (available, available.len(), false),
            };
            length += chunk.len();
            if let Some(&byte) = chunk.last() {
                last_byte = Some(byte);
            }
            if length <= keep {
                self.buffer.extend_from_slice(chunk);
            }
            self.reader.consume(consumed);
            if done {
                break;
            }
        }
        if !saw_any {
            return Ok(None);
        }
        self.number += 1;
        if last_byte == Some(b'\r') {
            length -= 1;
            if length < keep {
                self.buffer.pop();
            }
        }
        // Editors that save "UTF-8 with BOM" put one before the first line; it is not text.
        if first && self.buffer.starts_with(BYTE_ORDER_MARK) {
            self.buffer.drain(..BYTE_ORDER_MARK.len());
            length -= BYTE_ORDER_MARK.len();
        }
        if length > self.max_line_bytes {
            return Ok(Some((self.number, Line::Oversized { length })));
        }
        let line = match String::from_utf8(std::mem::take(&mut self.buffer)) {
            Ok(text) => Line::Text(text),
            Err(_) => Line::NotUtf8,
        };
        Ok(Some((self.number, line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], limit: usize) -> Vec<(usize, Line)> {
        let mut lines = BoundedLines::new(input, limit);
        let mut out = Vec::new();
        while let Some(line) = lines.next_line().expect("in-memory reads do not fail") {
            out.push(line);
        }
        out
    }

    #[test]
    fn numbers_lines_and_strips_line_endings() {
        let lines = read_all(b"a\r\nbb\n\nccc", 10);
        assert_eq!(
            lines,
            vec![
                (1, Line::Text("a".into())),
                (2, Line::Text("bb".into())),
                (3, Line::Text(String::new())),
                (4, Line::Text("ccc".into())),
            ]
        );
    }

    #[test]
    fn an_oversized_line_is_reported_and_the_next_one_still_read() {
        let mut input = vec![b'x'; 100];
        input.extend_from_slice(b"\nok\n");
        let lines = read_all(&input, 10);
        assert_eq!(
            lines,
            vec![
                (1, Line::Oversized { length: 100 }),
                (2, Line::Text("ok".into()))
            ]
        );
    }

    #[test]
    fn invalid_utf8_is_reported_not_panicked_on() {
        let lines = read_all(b"\xff\xfe\nfine\n", 10);
        assert_eq!(
            lines,
            vec![(1, Line::NotUtf8), (2, Line::Text("fine".into()))]
        );
    }

    /// The `\r` of a CRLF line ending is not part of the line: it used to count against the
    /// limit, so a CRLF file's line of exactly the limit was refused as one byte too long
    /// (and its length reported one byte longer than the line).
    #[test]
    fn a_crlf_line_ending_does_not_count_against_the_limit() {
        let lines = read_all(b"abcd\r\nabcde\r\nab\r", 4);
        assert_eq!(
            lines,
            vec![
                (1, Line::Text("abcd".into())),
                (2, Line::Oversized { length: 5 }),
                (3, Line::Text("ab".into())),
            ]
        );
    }

    /// A stream saved as "UTF-8 with BOM" used to fail at line 1 with "not valid JSON:
    /// expected a JSON object" although the line starts with `{`: the mark is not text, and
    /// is dropped at the start of the stream (only there), not counted against the limit.
    #[test]
    fn a_byte_order_mark_at_the_start_of_the_stream_is_dropped() {
        let lines = read_all(b"\xEF\xBB\xBFabcd\r\n\xEF\xBB\xBFab\n", 4);
        assert_eq!(
            lines,
            vec![
                (1, Line::Text("abcd".into())),
                (2, Line::Oversized { length: 5 }),
            ]
        );
    }
}

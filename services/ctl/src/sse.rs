//! Server-sent events, the format of the admin API's `/api/v1/events`
//! stream: a reader that yields the `data` of each event, following the
//! WHATWG event-stream rules mpctl needs (`data:` lines joined by `\n`, an
//! event dispatched at a blank line, `:` comments such as the server's
//! keep-alives ignored, other fields skipped). No sockets here: `watch`
//! feeds it the HTTP body, tests feed it bytes.

use std::io::{BufRead, Read};

/// Longest event accepted; the manager's events are a few hundred bytes,
/// and a stream that never sends a blank line must not grow without bound.
const MAX_EVENT: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SseError {
    #[error("reading the event stream: {0}")]
    Io(#[from] std::io::Error),
    #[error("an event in the stream is larger than {MAX_EVENT} bytes")]
    TooLarge,
}

/// Yields each event's data until the stream ends.
pub struct Events<R> {
    reader: R,
    line: Vec<u8>,
}

impl<R: BufRead> Events<R> {
    pub fn new(reader: R) -> Self {
        Events {
            reader,
            line: Vec::new(),
        }
    }

    /// The next event's data; `None` at the end of the stream (an event
    /// not closed by a blank line is dropped, as the format says).
    pub fn next_event(&mut self) -> Result<Option<String>, SseError> {
        let mut data: Option<String> = None;
        loop {
            self.line.clear();
            // `take` bounds one line: `read_until` alone would buffer a
            // line of any length.
            let limit = (MAX_EVENT + 2) as u64;
            let n = (&mut self.reader)
                .take(limit)
                .read_until(b'\n', &mut self.line)?;
            if n == 0 {
                return Ok(None);
            }
            if self.line.len() as u64 >= limit {
                return Err(SseError::TooLarge);
            }
            let text = String::from_utf8_lossy(&self.line);
            let text = text.trim_end_matches('\n').trim_end_matches('\r');
            if text.is_empty() {
                if let Some(d) = data.take() {
                    return Ok(Some(d));
                }
                continue;
            }
            if text.starts_with(':') {
                continue;
            }
            let (field, value) = match text.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (text, ""),
            };
            if field != "data" {
                continue;
            }
            let d = data.get_or_insert_with(String::new);
            if !d.is_empty() {
                d.push('\n');
            }
            d.push_str(value);
            if d.len() > MAX_EVENT {
                return Err(SseError::TooLarge);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Vec<String> {
        let mut ev = Events::new(input);
        let mut out = Vec::new();
        while let Some(d) = ev.next_event().unwrap() {
            out.push(d);
        }
        out
    }

    #[test]
    fn events_comments_and_fields() {
        let stream = b":keep-alive\n\ndata: {\"kind\":\"a\"}\n\nevent: x\nid: 3\ndata:{\"kind\":\"b\"}\r\n\r\n";
        assert_eq!(all(stream), vec![r#"{"kind":"a"}"#, r#"{"kind":"b"}"#]);
    }

    #[test]
    fn multi_line_data_is_joined() {
        assert_eq!(all(b"data: one\ndata: two\ndata\n\n"), vec!["one\ntwo\n"]);
    }

    #[test]
    fn unterminated_event_is_dropped() {
        assert_eq!(all(b"data: done\n\ndata: half"), vec!["done"]);
        assert!(all(b"").is_empty());
    }

    #[test]
    fn huge_lines_are_refused() {
        let mut big = b"data: ".to_vec();
        big.resize(MAX_EVENT + 100, b'x');
        let mut ev = Events::new(&big[..]);
        assert!(matches!(ev.next_event(), Err(SseError::TooLarge)));
    }
}

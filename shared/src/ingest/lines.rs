//! Byte-stream adapters in front of the CSV parser.
//!
//! [`Newlines`] turns CRLF and lone CR into LF and ends the text with a line
//! feed, so every record ends in exactly one `\n` and the parser's line count
//! tells spreadsheet row numbers (see `csv.rs`). A CR or CRLF inside a quoted
//! cell becomes LF as well, which is how spreadsheets store a line break.
//!
//! [`RecordGuard`] follows RFC 4180 quoting the way the `csv` crate does and
//! fails once one record passes [`MAX_RECORD_BYTES`]: an unclosed quote must
//! not make the parser hold the rest of a 200 MB file as one record.

use std::io::{self, Read};

/// The longest record accepted (a hundred columns at Excel's cell limit fit).
pub(super) const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// See the module documentation.
pub(super) struct Newlines<R> {
    inner: R,
    after_cr: bool,
    last: Option<u8>,
    done: bool,
}

impl<R: Read> Newlines<R> {
    pub(super) fn new(inner: R) -> Self {
        Self {
            inner,
            after_cr: false,
            last: None,
            done: false,
        }
    }
}

impl<R: Read> Read for Newlines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.done {
                return Ok(0);
            }
            let n = self.inner.read(buf)?;
            if n == 0 {
                self.done = true;
                if self.last.is_some_and(|b| b != b'\n') {
                    buf[0] = b'\n';
                    return Ok(1);
                }
                return Ok(0);
            }
            let mut kept = 0;
            for i in 0..n {
                let byte = buf[i];
                let after_cr = std::mem::replace(&mut self.after_cr, byte == b'\r');
                if byte == b'\n' && after_cr {
                    continue; // the LF of a CRLF: its CR already became one
                }
                buf[kept] = if byte == b'\r' { b'\n' } else { byte };
                kept += 1;
            }
            if kept > 0 {
                self.last = Some(buf[kept - 1]);
                return Ok(kept);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Quoting {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// See the module documentation.
pub(super) struct RecordGuard<R> {
    inner: R,
    delimiter: u8,
    state: Quoting,
    record_bytes: usize,
}

impl<R: Read> RecordGuard<R> {
    pub(super) fn new(inner: R, delimiter: u8) -> Self {
        Self {
            inner,
            delimiter,
            state: Quoting::FieldStart,
            record_bytes: 0,
        }
    }
}

impl<R: Read> Read for RecordGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &byte in &buf[..n] {
            use Quoting::*;
            self.state = match (self.state, byte) {
                (Quoted, b'"') => QuoteInQuoted,
                (Quoted, _) => Quoted,
                (QuoteInQuoted, b'"') | (FieldStart, b'"') => Quoted,
                (_, b'\n') => {
                    self.record_bytes = 0;
                    FieldStart
                }
                (_, b) if b == self.delimiter => FieldStart,
                _ => Unquoted,
            };
            self.record_bytes += 1;
        }
        if self.record_bytes > MAX_RECORD_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "a record is longer than {} MiB (is a quote left open?)",
                    MAX_RECORD_BYTES >> 20
                ),
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(text: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        // A tiny reader buffer so CRLF pairs get split across reads.
        let mut reader = Newlines::new(io::BufReader::with_capacity(1, text));
        reader.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn line_ends_become_single_line_feeds() {
        assert_eq!(normalized(b"a\r\nb\rc\n\r\nd"), b"a\nb\nc\n\nd\n");
        assert_eq!(normalized(b"a\n"), b"a\n");
        assert_eq!(normalized(b""), b"");
    }

    #[test]
    fn an_unclosed_quote_is_stopped() {
        let mut text = b"Name,Email\n\"open,".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES));
        text.extend_from_slice(b"\nmore\n");
        let mut guard = RecordGuard::new(&text[..], b',');
        let err = io::copy(&mut guard, &mut io::sink()).unwrap_err();
        assert!(err.to_string().contains("quote"), "{err}");

        // Quoted line breaks and escaped quotes in ordinary sizes pass.
        let fine = b"a,\"x\"\"\ny\",b\nc\n".repeat(100_000);
        let mut guard = RecordGuard::new(&fine[..], b',');
        assert_eq!(
            io::copy(&mut guard, &mut io::sink()).unwrap() as usize,
            fine.len()
        );
    }
}

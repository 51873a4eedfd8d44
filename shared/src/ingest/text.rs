//! Decoding an uploaded text file (CSV or JSON) to UTF-8 as it streams.
//!
//! The encoding is told from a byte-order mark when there is one (UTF-8,
//! UTF-16 LE or BE); otherwise the text is read as UTF-8 until the first byte
//! that is not, and if everything before that byte was ASCII the rest is read as
//! Windows-1252 (both agree on ASCII, so nothing already passed on changes).
//! Invalid UTF-8 after non-ASCII UTF-8, or broken UTF-16, is an I/O error of
//! kind `InvalidData` that the readers turn into `unreadable_file`.
//! Memory is two fixed buffers, whatever the file's size.

use encoding_rs::{Decoder, DecoderResult, Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};
use std::io::{self, Read};

/// Bytes read from the file at a time, and bytes of UTF-8 handed out at a time.
const CHUNK: usize = 64 * 1024;

/// A `Read` that yields the UTF-8 text of an underlying byte stream.
pub(super) struct Utf8Text<R> {
    inner: R,
    input: Box<[u8]>,
    in_pos: usize,
    in_end: usize,
    eof: bool,
    /// Input bytes consumed before `input[0]`, for error messages.
    consumed: u64,
    output: Box<[u8]>,
    out_pos: usize,
    out_end: usize,
    decoder: Decoder,
    encoding: &'static Encoding,
    /// No BOM was seen and every byte so far was ASCII: a non-UTF-8 byte now
    /// means Windows-1252.
    may_fall_back: bool,
    /// The error that ended decoding, returned again on every later read
    /// (after the text before it has been handed out).
    failed: Option<String>,
    /// The decoder has seen the end of the input (it must not be called again).
    finished: bool,
}

/// The encoding a byte-order mark announces, and the mark's length.
pub(super) fn bom(prefix: &[u8]) -> Option<(&'static Encoding, usize)> {
    match prefix {
        [0xEF, 0xBB, 0xBF, ..] => Some((UTF_8, 3)),
        [0xFF, 0xFE, ..] => Some((UTF_16LE, 2)),
        [0xFE, 0xFF, ..] => Some((UTF_16BE, 2)),
        _ => None,
    }
}

impl<R: Read> Utf8Text<R> {
    /// Wraps `inner`, reading its first bytes to look for a byte-order mark.
    pub(super) fn new(inner: R) -> io::Result<Self> {
        let mut text = Self {
            inner,
            input: vec![0; CHUNK].into_boxed_slice(),
            in_pos: 0,
            in_end: 0,
            eof: false,
            consumed: 0,
            output: vec![0; CHUNK].into_boxed_slice(),
            out_pos: 0,
            out_end: 0,
            decoder: UTF_8.new_decoder_without_bom_handling(),
            encoding: UTF_8,
            may_fall_back: true,
            failed: None,
            finished: false,
        };
        // A BOM is at most 3 bytes; make sure they are all in before looking.
        while text.in_end < 3 && !text.eof {
            text.refill()?;
        }
        if let Some((encoding, len)) = bom(&text.input[..text.in_end]) {
            text.in_pos = len;
            text.decoder = encoding.new_decoder_without_bom_handling();
            text.encoding = encoding;
            text.may_fall_back = false;
        }
        Ok(text)
    }

    /// Moves unread input to the front and reads more after it.
    fn refill(&mut self) -> io::Result<()> {
        if self.in_pos > 0 {
            self.input.copy_within(self.in_pos..self.in_end, 0);
            self.consumed += self.in_pos as u64;
            self.in_end -= self.in_pos;
            self.in_pos = 0;
        }
        let n = loop {
            match self.inner.read(&mut self.input[self.in_end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.in_end += n;
        self.eof = n == 0;
        Ok(())
    }

    /// Decodes the next piece of input into `output`; leaves it empty only at the end.
    fn decode_more(&mut self) -> io::Result<()> {
        if let Some(message) = &self.failed {
            return Err(io::Error::new(io::ErrorKind::InvalidData, message.clone()));
        }
        self.out_pos = 0;
        self.out_end = 0;
        while !self.finished {
            // Keep at least a whole character's worth of input (4 bytes) at hand.
            if self.in_end - self.in_pos < 4 && !self.eof {
                self.refill()?;
            }
            let mut src = &self.input[self.in_pos..self.in_end];
            let last = self.eof;
            if self.may_fall_back && !last {
                // Hold back a trailing partial character: should it turn out not
                // to be UTF-8, its bytes must still be here to re-read.
                let tail = src
                    .iter()
                    .rev()
                    .take(3)
                    .take_while(|b| !b.is_ascii())
                    .count();
                src = &src[..src.len() - tail];
            }
            let (result, read, written) =
                self.decoder
                    .decode_to_utf8_without_replacement(src, &mut self.output, last);
            self.out_pos = 0;
            self.out_end = written;
            match result {
                DecoderResult::InputEmpty | DecoderResult::OutputFull => {
                    self.may_fall_back &= src[..read].is_ascii();
                    self.in_pos += read;
                    self.finished = last && result == DecoderResult::InputEmpty;
                    if written > 0 {
                        return Ok(());
                    }
                }
                DecoderResult::Malformed(bad, extra) => {
                    let bad_start = read
                        .checked_sub(usize::from(bad) + usize::from(extra))
                        .filter(|&start| self.may_fall_back && src[..start].is_ascii());
                    let offset = self.consumed + (self.in_pos + read) as u64;
                    let Some(bad_start) = bad_start else {
                        let error = invalid_text(self.encoding, offset);
                        self.failed = Some(error.to_string());
                        // Hand out the text before the bad bytes first.
                        return if written > 0 { Ok(()) } else { Err(error) };
                    };
                    // Only ASCII so far, which Windows-1252 reads the same way:
                    // go on from the offending byte as Windows-1252.
                    self.decoder = WINDOWS_1252.new_decoder_without_bom_handling();
                    self.encoding = WINDOWS_1252;
                    self.may_fall_back = false;
                    self.in_pos += bad_start;
                    if written > 0 {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }
}

fn invalid_text(encoding: &'static Encoding, offset: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "the file is not valid {} text (near byte {offset})",
            encoding.name()
        ),
    )
}

impl<R: Read> Read for Utf8Text<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.out_pos == self.out_end {
            self.decode_more()?;
        }
        let n = buf.len().min(self.out_end - self.out_pos);
        buf[..n].copy_from_slice(&self.output[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> io::Result<String> {
        let mut text = String::new();
        Utf8Text::new(bytes)?.read_to_string(&mut text)?;
        Ok(text)
    }

    #[test]
    fn boms_pick_the_encoding_and_are_dropped() {
        assert_eq!(decode(b"\xEF\xBB\xBFName").unwrap(), "Name");
        assert_eq!(decode(b"\xFF\xFEN\0a\0").unwrap(), "Na");
        assert_eq!(decode(b"\xFE\xFF\0N\0a").unwrap(), "Na");
        assert_eq!(decode(b"").unwrap(), "");
    }

    #[test]
    fn ascii_then_a_legacy_byte_is_windows_1252_even_far_into_the_file() {
        let mut bytes = b"a,b\n".repeat(40_000);
        bytes.extend_from_slice(b"Jos\xE9 \x80\n");
        let text = decode(&bytes).unwrap();
        assert!(text.ends_with("José €\n"));
        assert_eq!(text.len(), 160_000 + "José €\n".len());
    }

    #[test]
    fn broken_utf8_after_real_utf8_is_an_error() {
        let err = decode(b"Jos\xC3\xA9\nM\xFCller").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("UTF-8"), "{err}");
        // A UTF-16 file cut in the middle of a code unit.
        assert!(decode(b"\xFF\xFEN\0a").is_err());
    }

    #[test]
    fn multibyte_characters_split_across_chunks_survive() {
        let mut bytes = vec![b'x'; CHUNK - 1];
        bytes.extend_from_slice("é€".as_bytes());
        let text = decode(&bytes).unwrap();
        assert!(text.ends_with("é€"));
    }
}

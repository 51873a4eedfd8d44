//! Bounds on the XML inside an xlsx, checked by streaming it before calamine
//! reads it.
//!
//! calamine reads XML with quick-xml, which holds each piece of markup whole (a
//! text node, a tag with its attributes, a comment, a CDATA section); calamine
//! then joins a string's rich-text runs into one `String`, and keeps every
//! shared string of the workbook at once. The zip checks in `guard.rs` bound
//! whole parts only, so a 64 MiB cell packed into a 0.7 MB upload cost the
//! process 209 MB, and a 1 GiB one over 4 GB. Here every part that is XML is
//! inflated and scanned in a fixed buffer (constant memory, nothing kept), and
//! the workbook refused as `unsafe_file` as soon as:
//!
//! - a cell's text, or a shared string's (its runs together), is longer than
//!   [`MAX_TEXT_BYTES`]: 32,767 characters (Excel's limit per cell, and more
//!   than any column accepts) at 10 bytes each, the most one character takes
//!   when escaped (`&#1114111;`). No file a spreadsheet program writes is
//!   refused, and calamine never holds more than 320 KiB for one value;
//! - any other text, tag, comment or instruction is longer than
//!   [`MAX_MARKUP_BYTES`];
//! - the shared strings are more than the caller allows (see `guard.rs`: a
//!   number relative to the sheets' size), or their part inflates past
//!   [`MAX_SHARED_STRINGS_BYTES`] whatever its zip entry declared;
//! - a part declares a document type: the Open Packaging Conventions forbid
//!   DTDs, and an internal subset is one unbounded piece of markup.
//!
//! The scan is deliberately stricter than quick-xml: where the two could cut
//! the XML differently (quotes in tags, CDATA, comments), its pieces are never
//! shorter than quick-xml's, so what passes here fits calamine's buffers too.

use crate::model::FileError;
use reference::{cell_name, parse_reference};
use std::io::Read;
pub(super) use targets::Targets;

mod reference;
mod targets;

/// Longest text of one cell or shared string, in bytes of XML (see the module doc).
pub(super) const MAX_TEXT_BYTES: u64 = 32_767 * 10;
/// Longest piece of any other markup; real tags stay under a few KB.
pub(super) const MAX_MARKUP_BYTES: u64 = 1 << 20;
/// Most bytes the shared-strings part may inflate to: calamine holds all of its
/// strings at once (with about 50 bytes of bookkeeping each).
pub(super) const MAX_SHARED_STRINGS_BYTES: u64 = 256 << 20;

const BUFFER: usize = 64 * 1024;
/// The first bytes of a tag kept to read its name and attributes (a cell's
/// `r`, a relationship's `Type` and `Target`).
const HEAD: usize = 512;

/// What the caller knows of the part being scanned.
pub(super) struct Part<'a> {
    pub name: &'a str,
    /// The workbook's shared-strings part: its `<si>` items are counted.
    pub shared_strings: bool,
    /// Most `<si>` items accepted in it.
    pub max_strings: u64,
}

/// Scans one part to its end, as calamine's XML reader would see it. The file
/// names its relationships target (if it is a `.rels` part) are added to
/// `targets`, which tells the parts calamine never reads as XML.
pub(super) fn scan(
    mut part: impl Read,
    about: &Part<'_>,
    targets: &mut Targets,
) -> Result<(), Refusal> {
    let mut buffer = vec![0u8; BUFFER];
    let mut scanner = Scanner::new(about, targets);
    loop {
        let n = match part.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Refusal::Broken(format!(
                    "the spreadsheet's part '{}' is broken: {e}",
                    about.name
                )));
            }
        };
        scanner.total += n as u64;
        if about.shared_strings && scanner.total > MAX_SHARED_STRINGS_BYTES {
            return Err(Refusal::Unsafe(format!(
                "its shared strings ('{}') take more than {MAX_SHARED_STRINGS_BYTES} bytes",
                about.name
            )));
        }
        scanner.feed(&buffer[..n])?;
    }
}

/// Why a part is refused.
#[derive(Debug)]
pub(super) enum Refusal {
    /// Over a bound: the sentence for `unsafe_file`.
    Unsafe(String),
    /// The part could not be inflated: the sentence for `unreadable_file`.
    Broken(String),
}

impl From<Refusal> for FileError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Unsafe(why) => super::guard::unsafe_file(why),
            Refusal::Broken(why) => FileError::Unreadable(why),
        }
    }
}

/// After an optional byte-order mark and white space (or UTF-16's NULs), a `<`.
pub(super) fn looks_like_xml(start: &[u8]) -> bool {
    let start = start
        .strip_prefix(b"\xEF\xBB\xBF")
        .or_else(|| start.strip_prefix(b"\xFF\xFE"))
        .or_else(|| start.strip_prefix(b"\xFE\xFF"))
        .unwrap_or(start);
    start
        .iter()
        .find(|b| !b.is_ascii_whitespace() && **b != 0)
        .is_some_and(|b| *b == b'<')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Text,
    /// Inside `<...>`; `quote` is the open attribute quote, or 0.
    Tag {
        quote: u8,
    },
    Comment,
    CData,
    Instruction,
}

struct Scanner<'a> {
    part: &'a Part<'a>,
    targets: &'a mut Targets,
    state: State,
    /// Bytes of the current piece: a text run or one piece of markup.
    piece: u64,
    /// The current tag's first bytes, after its `<`.
    head: [u8; HEAD],
    head_len: usize,
    /// The byte before the current one in a tag (a `/` before `>` closes it).
    last: u8,
    /// The last two bytes of a comment, CDATA section or instruction.
    tail: [u8; 2],
    /// Inside `<si>` or `<is>`: the string's text so far.
    string: Option<u64>,
    phonetic: bool,
    strings: u64,
    row: u32,
    column: u32,
    in_cell: bool,
    total: u64,
}

impl<'a> Scanner<'a> {
    fn new(part: &'a Part<'a>, targets: &'a mut Targets) -> Self {
        Self {
            part,
            targets,
            state: State::Text,
            piece: 0,
            head: [0; HEAD],
            head_len: 0,
            last: 0,
            tail: [0; 2],
            string: None,
            phonetic: false,
            strings: 0,
            row: 0,
            column: 0,
            in_cell: false,
            total: 0,
        }
    }

    fn feed(&mut self, mut buf: &[u8]) -> Result<(), Refusal> {
        while !buf.is_empty() {
            buf = match self.state {
                State::Text => match memchr::memchr(b'<', buf) {
                    Some(at) => {
                        self.text(at as u64)?;
                        self.state = State::Tag { quote: 0 };
                        self.piece = 0;
                        self.head_len = 0;
                        self.last = 0;
                        &buf[at + 1..]
                    }
                    None => {
                        self.text(buf.len() as u64)?;
                        &[]
                    }
                },
                State::Tag { quote } => self.tag(buf, quote)?,
                State::Comment | State::CData | State::Instruction => self.special(buf)?,
            };
        }
        Ok(())
    }

    /// `n` more bytes of text.
    fn text(&mut self, n: u64) -> Result<(), Refusal> {
        self.piece += n;
        let string = match &mut self.string {
            Some(len) if !self.phonetic => {
                *len += n;
                *len
            }
            _ => 0,
        };
        if self.piece > MAX_TEXT_BYTES || string > MAX_TEXT_BYTES {
            return Err(self.too_long());
        }
        Ok(())
    }

    fn too_long(&self) -> Refusal {
        let limit = "more than 32,767 characters, Excel's limit for a cell";
        Refusal::Unsafe(if self.part.shared_strings && self.string.is_some() {
            format!(
                "shared string {} (in '{}') holds {limit}",
                self.strings, self.part.name
            )
        } else if self.in_cell {
            format!("cell {} holds {limit}", cell_name(self.row, self.column))
        } else {
            format!(
                "its part '{}' holds a text of more than {MAX_TEXT_BYTES} bytes",
                self.part.name
            )
        })
    }

    fn markup_too_long(&self) -> Refusal {
        Refusal::Unsafe(format!(
            "its part '{}' holds a piece of markup of more than {MAX_MARKUP_BYTES} bytes",
            self.part.name
        ))
    }

    /// Bytes inside a tag; returns what follows the tag (or nothing).
    fn tag<'b>(&mut self, buf: &'b [u8], mut quote: u8) -> Result<&'b [u8], Refusal> {
        let mut at = 0;
        while at < buf.len() {
            // Past the head only quotes and `>` matter: jump to the next of them.
            if self.head_len == HEAD {
                let next = if quote == 0 {
                    memchr::memchr3(b'>', b'"', b'\'', &buf[at..])
                } else {
                    memchr::memchr(quote, &buf[at..])
                };
                let Some(skip) = next else {
                    self.piece += (buf.len() - at) as u64;
                    self.last = buf[buf.len() - 1];
                    break;
                };
                if skip > 0 {
                    self.last = buf[at + skip - 1];
                }
                self.piece += skip as u64;
                at += skip;
            }
            let byte = buf[at];
            at += 1;
            self.piece += 1;
            if quote != 0 {
                if byte == quote {
                    quote = 0;
                }
            } else if byte == b'"' || byte == b'\'' {
                quote = byte;
            } else if byte == b'>' {
                self.state = State::Text;
                self.piece = 0;
                self.end_tag()?;
                return Ok(&buf[at..]);
            }
            if self.head_len < HEAD {
                self.head[self.head_len] = byte;
                self.head_len += 1;
                if let Some(state) = self.special_start()? {
                    self.state = state;
                    self.tail = [0; 2];
                    return Ok(&buf[at..]);
                }
            }
            self.last = byte;
            if self.piece > MAX_MARKUP_BYTES {
                return Err(self.markup_too_long());
            }
        }
        if self.piece > MAX_MARKUP_BYTES {
            return Err(self.markup_too_long());
        }
        self.state = State::Tag { quote };
        Ok(&[])
    }

    /// Whether the tag's head so far opens a comment, a CDATA section, an
    /// instruction, or a document type (refused).
    fn special_start(&self) -> Result<Option<State>, Refusal> {
        let head = &self.head[..self.head_len];
        Ok(match head {
            b"?" => Some(State::Instruction),
            b"!--" => Some(State::Comment),
            b"![CDATA[" => Some(State::CData),
            _ if head.len() == 8 && head.eq_ignore_ascii_case(b"!DOCTYPE") => {
                return Err(Refusal::Unsafe(format!(
                    "its part '{}' declares a document type (DTD), which spreadsheet files may not",
                    self.part.name
                )));
            }
            _ => None,
        })
    }

    /// Bytes of a comment, CDATA section or instruction, up to its end mark.
    fn special<'b>(&mut self, buf: &'b [u8]) -> Result<&'b [u8], Refusal> {
        let (consumed, found) = match memchr::memchr(b'>', buf) {
            Some(at) => (at + 1, true),
            None => (buf.len(), false),
        };
        let content = &buf[..consumed - usize::from(found)];
        let before = match content {
            [.., a, b] => [*a, *b],
            [b] => [self.tail[1], *b],
            [] => self.tail,
        };
        if self.state == State::CData {
            self.text(content.len() as u64)?;
        } else {
            self.piece += content.len() as u64;
            if self.piece > MAX_MARKUP_BYTES {
                return Err(self.markup_too_long());
            }
        }
        if found {
            let ends = match self.state {
                State::Comment => before == *b"--",
                State::CData => before == *b"]]",
                _ => before[1] == b'?',
            };
            if ends {
                self.state = State::Text;
                self.piece = 0;
            } else {
                // A `>` inside: part of the piece.
                self.text_or_markup(1)?;
                self.tail = [before[1], b'>'];
            }
        } else {
            self.tail = before;
        }
        Ok(&buf[consumed..])
    }

    fn text_or_markup(&mut self, n: u64) -> Result<(), Refusal> {
        if self.state == State::CData {
            self.text(n)
        } else {
            self.piece += n;
            Ok(())
        }
    }

    /// A tag ended: follow the elements that matter.
    fn end_tag(&mut self) -> Result<(), Refusal> {
        let head = &self.head[..self.head_len.min(HEAD)];
        let head = head.strip_suffix(b">").unwrap_or(head);
        let (closing, body) = match head.strip_prefix(b"/") {
            Some(body) => (true, body),
            None => (false, head),
        };
        let name_len = body
            .iter()
            .position(|b| b.is_ascii_whitespace() || *b == b'/')
            .unwrap_or(body.len());
        let name = &body[..name_len];
        let local = name.rsplit(|b| *b == b':').next().unwrap_or(name);
        let empty = !closing && self.last == b'/';
        match (local, closing) {
            (b"si" | b"is", false) => {
                if local == b"si" && self.part.shared_strings {
                    self.strings += 1;
                    if self.strings > self.part.max_strings {
                        return Err(Refusal::Unsafe(format!(
                            "its part '{}' holds more than {} shared strings, more than \
                             a workbook of this size can use",
                            self.part.name, self.part.max_strings
                        )));
                    }
                }
                self.string = (!empty).then_some(0);
            }
            (b"si" | b"is", true) => self.string = None,
            (b"rPh", closing) => self.phonetic = !closing && !empty,
            (b"row", false) => {
                self.row = super::guard::attribute(body, b"r")
                    .and_then(|r| std::str::from_utf8(r).ok()?.trim().parse().ok())
                    .unwrap_or(self.row.saturating_add(1));
                self.column = 0;
            }
            (b"c", false) => {
                match super::guard::attribute(body, b"r").and_then(parse_reference) {
                    Some((row, column)) => (self.row, self.column) = (row, column),
                    None => self.column = self.column.saturating_add(1),
                }
                self.in_cell = !empty;
            }
            (b"c", true) => self.in_cell = false,
            (b"Relationship", false) => {
                let tag = body.to_vec();
                self.relationship(&tag);
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

//! Byte-level walking of JSON text: skipping whitespace and passing over one
//! value (copying its bytes, up to a bound) without parsing it, so that only
//! one element at a time is ever held and parsed.

use super::{Source, broken};
use crate::ingest::unreadable;
use crate::model::FileError;
use std::io::BufRead;

/// Skips JSON whitespace; the next byte, not consumed, or `None` at the end.
pub(super) fn skip_ws(src: &mut Source) -> Result<Option<u8>, FileError> {
    loop {
        let buf = src.fill_buf().map_err(|e| unreadable(&e))?;
        if buf.is_empty() {
            return Ok(None);
        }
        let spaces = buf
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
        let next = buf.get(spaces).copied();
        src.consume(spaces);
        if next.is_some() {
            return Ok(next);
        }
    }
}

/// Passes over one JSON value (after optional whitespace) without parsing it,
/// copying its bytes into `out` (up to a size) when given.
pub(super) fn scan_value(
    src: &mut Source,
    mut out: Option<(&mut Vec<u8>, usize)>,
) -> Result<(), FileError> {
    skip_ws(src)?;
    let (mut depth, mut in_string, mut escaped, mut len) = (0usize, false, false, 0usize);
    loop {
        let buf = src.fill_buf().map_err(|e| unreadable(&e))?;
        if buf.is_empty() {
            return match (depth, in_string, len) {
                (0, false, 1..) => Ok(()),
                _ => Err(broken("the file ends in the middle of a value")),
            };
        }
        let mut end = None;
        for (i, &byte) in buf.iter().enumerate() {
            if in_string {
                match byte {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => {
                        in_string = false;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth > 1 => depth -= 1,
                b'}' | b']' if depth == 1 => {
                    end = Some(i + 1);
                    break;
                }
                b'}' | b']' | b',' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let taken = end.unwrap_or(buf.len());
        if let Some((out, limit)) = out.as_mut() {
            out.extend_from_slice(&buf[..taken]);
            if out.len() > *limit {
                return Err(FileError::Unreadable(format!(
                    "a value is larger than {} KiB, far more than a technician needs",
                    *limit >> 10
                )));
            }
        }
        len += taken;
        src.consume(taken);
        if end.is_some() {
            return if len == 0 {
                Err(broken("a value is missing"))
            } else {
                Ok(())
            };
        }
    }
}

//! Telling an upload's format from its first bytes (API.md, "Starting an
//! import"): a zip is xlsx (confirmed later by `check_xlsx`, since a zip's
//! directory is at its end), text starting with `[` or `{` is JSON, other text
//! is CSV, and everything else is refused.

use super::UnsupportedFormat;
use super::text::bom;
use crate::model::Format;
use encoding_rs::{UTF_8, WINDOWS_1252};

/// Formats that are recognisably not ours, by their magic bytes.
const KNOWN_BINARIES: &[(&[u8], &str)] = &[
    (b"%PDF", "a PDF document"),
    (
        CFB_MAGIC,
        "an old Excel (.xls) or other Office 97-2003 file, or a password-protected workbook",
    ),
    (b"\x89PNG", "a PNG image"),
    (b"\xFF\xD8\xFF", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF (WebP, WAV or AVI) file"),
    (b"\x1F\x8B", "a gzip archive"),
    (b"7z\xBC\xAF", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"PK\x07\x08", "a split zip archive"),
    (b"{\\rtf", "an RTF document"),
];

/// An OLE compound file: Office 97-2003 documents, and also Office 2007+
/// workbooks once a password encrypts them (MS-OFFCRYPTO).
const CFB_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
/// The stream an encrypted workbook keeps its package in, as a compound file's
/// directory names it (UTF-16LE); a small file's directory is within the prefix.
const ENCRYPTED_PACKAGE: &str = "EncryptedPackage";

/// Share of control characters above which "text" is taken for binary data.
const MAX_CONTROL_PER_MILLE: usize = 10;

pub(super) fn sniff(prefix: &[u8]) -> Result<Format, UnsupportedFormat> {
    if prefix.starts_with(b"PK\x03\x04") {
        return Ok(Format::Xlsx);
    }
    if prefix.starts_with(CFB_MAGIC) && names_encrypted_package(prefix) {
        return Err(refuse(
            "a password-protected (encrypted) workbook (remove its password in Excel and save it again)",
        ));
    }
    if let Some((_, what)) = KNOWN_BINARIES
        .iter()
        .find(|(magic, _)| prefix.starts_with(magic))
    {
        return Err(refuse(what));
    }
    let text = decode(prefix)?;
    let mut chars = 0usize;
    let mut controls = 0usize;
    for c in text.chars() {
        chars += 1;
        if c == '\0' {
            return Err(refuse("binary data"));
        }
        if c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0C' | '\x1A') && c < '\u{80}' {
            controls += 1;
        }
    }
    if controls * 1000 > chars * MAX_CONTROL_PER_MILLE {
        return Err(refuse("binary data"));
    }
    match text.trim_start().chars().next() {
        Some('[' | '{') => Ok(Format::Json),
        _ => Ok(Format::Csv),
    }
}

/// The refusal; the API adds what to upload instead.
fn refuse(what: &str) -> UnsupportedFormat {
    UnsupportedFormat(format!("the file is {what}"))
}

fn names_encrypted_package(prefix: &[u8]) -> bool {
    let name: Vec<u8> = ENCRYPTED_PACKAGE
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    prefix.windows(name.len()).any(|w| w == name.as_slice())
}

/// The prefix as text: after a BOM in its encoding; else UTF-8 if it is (a
/// character cut off at the end is fine), else Windows-1252.
fn decode(prefix: &[u8]) -> Result<String, UnsupportedFormat> {
    let (encoding, rest) = match bom(prefix) {
        Some((encoding, len)) => (encoding, &prefix[len..]),
        None => {
            if prefix.contains(&0) {
                return Err(refuse("binary data"));
            }
            let valid = match std::str::from_utf8(prefix) {
                Ok(_) => true,
                Err(e) => e.error_len().is_none(),
            };
            (if valid { UTF_8 } else { WINDOWS_1252 }, prefix)
        }
    };
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(rest.len())
        .unwrap_or(rest.len().saturating_mul(3));
    let mut text = String::with_capacity(capacity);
    // `last = false`: the prefix may end in the middle of a character.
    let (result, _) = decoder.decode_to_string_without_replacement(rest, &mut text, false);
    match result {
        encoding_rs::DecoderResult::Malformed(..) => {
            Err(refuse(&format!("not valid {} text", encoding.name())))
        }
        _ => Ok(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(prefix: &[u8]) -> String {
        match sniff(prefix) {
            Err(UnsupportedFormat(message)) => message,
            Ok(format) => panic!("expected a refusal, got {format:?}"),
        }
    }

    #[test]
    fn text_is_csv_or_json() {
        assert_eq!(sniff(b"Name,Email\r\n"), Ok(Format::Csv));
        assert_eq!(sniff(b"\xEF\xBB\xBFName;Email"), Ok(Format::Csv));
        assert_eq!(sniff(b"Jos\xE9;M\xFCller\n"), Ok(Format::Csv));
        assert_eq!(sniff(b"\xFF\xFEN\0a\0m\0e\0\t\0"), Ok(Format::Csv));
        assert_eq!(sniff(b""), Ok(Format::Csv));
        assert_eq!(sniff(b"  \n [ {\"name\": 1} ]"), Ok(Format::Json));
        assert_eq!(
            sniff(b"\xEF\xBB\xBF{\"technicians\": []}"),
            Ok(Format::Json)
        );
        assert_eq!(sniff(b"\xFE\xFF\0{\0\"\0a"), Ok(Format::Json));
        // A UTF-8 character cut off by the end of the prefix.
        assert_eq!(sniff(b"Name,Jos\xC3"), Ok(Format::Csv));
        assert_eq!(sniff(b"PK\x03\x04\x14\0\0\0"), Ok(Format::Xlsx));
    }

    #[test]
    fn other_files_are_refused() {
        assert!(refused(b"%PDF-1.7\n%\xE2\xE3").contains("PDF"));
        assert!(refused(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0").contains(".xls"));
        // An encrypted workbook is a compound file too, named as what it is.
        let mut encrypted = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
        encrypted.resize(1024, 0);
        encrypted.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
        let message = refused(&encrypted);
        assert!(
            message.contains("password-protected") && !message.contains(".xls"),
            "{message}"
        );
        assert!(refused(b"\x89PNG\r\n\x1A\n\0\0\0\rIHDR").contains("PNG"));
        assert!(refused(b"PK\x05\x06\0\0\0\0").contains("zip"));
        // Random-looking binary: NUL bytes, or many control characters.
        let noise: Vec<u8> = (0u32..4096)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(refused(&noise).contains("binary"));
        let controls: Vec<u8> = (1u8..32).cycle().take(500).collect();
        assert!(refused(&controls).contains("binary"));
        // UTF-16 with a lone surrogate.
        assert!(refused(b"\xFF\xFE\x00\xDCa\0").contains("UTF-16"));
    }
}

//! Bytes to text and back (UTF-8, UTF-8 with BOM, UTF-16 LE/BE with BOM), and the line model
//! the YAML editor works on: each line's content and its own ending, so CRLF, mixed endings and
//! a missing final newline survive an edit untouched.

use std::ops::Range;

use super::error::EditError;

/// How a file was encoded; an edit writes it back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    /// What Windows PowerShell 5 writes for `conda env export > environment.yml`.
    Utf16LeBom,
    Utf16BeBom,
}

/// Decode a file's bytes; anything that is not UTF-8 or BOM-marked UTF-16 is refused.
pub fn decode(bytes: &[u8]) -> Result<(String, Encoding), EditError> {
    let utf16 = |rest: &[u8], le: bool, enc: Encoding| {
        if !rest.len().is_multiple_of(2) {
            return Err(EditError::NotText {
                detail: "odd number of bytes after a UTF-16 BOM".into(),
            });
        }
        let units = rest.chunks_exact(2).map(|c| {
            if le {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map(|s| (s, enc))
            .map_err(|_| EditError::NotText {
                detail: "invalid UTF-16".into(),
            })
    };
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true, Encoding::Utf16LeBom),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false, Encoding::Utf16BeBom),
        [0xEF, 0xBB, 0xBF, rest @ ..] => std::str::from_utf8(rest)
            .map(|s| (s.to_string(), Encoding::Utf8Bom))
            .map_err(|e| EditError::NotText {
                detail: format!("invalid UTF-8 ({e})"),
            }),
        _ => {
            let s = std::str::from_utf8(bytes).map_err(|e| EditError::NotText {
                detail: format!("invalid UTF-8 ({e})"),
            })?;
            if s.contains('\0') {
                return Err(EditError::NotText {
                    detail: "NUL bytes (UTF-16 without a BOM?)".into(),
                });
            }
            Ok((s.to_string(), Encoding::Utf8))
        }
    }
}

/// Encode text the way the original was encoded.
pub fn encode(text: &str, enc: Encoding) -> Vec<u8> {
    match enc {
        Encoding::Utf8 => text.as_bytes().to_vec(),
        Encoding::Utf8Bom => [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
        Encoding::Utf16LeBom => {
            let mut out = vec![0xFF, 0xFE];
            text.encode_utf16()
                .for_each(|u| out.extend_from_slice(&u.to_le_bytes()));
            out
        }
        Encoding::Utf16BeBom => {
            let mut out = vec![0xFE, 0xFF];
            text.encode_utf16()
                .for_each(|u| out.extend_from_slice(&u.to_be_bytes()));
            out
        }
    }
}

/// One line: `content` excludes the ending, `full` includes it (`\n`, `\r\n` or nothing).
#[derive(Debug, Clone)]
pub struct Line {
    pub content: Range<usize>,
    pub full: Range<usize>,
}

impl Line {
    pub fn has_ending(&self) -> bool {
        self.full.end > self.content.end
    }
}

/// Split into lines, each with its own ending.
pub fn lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    while start < text.len() {
        let nl = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| start + p);
        match nl {
            Some(nl) => {
                let content_end = if nl > start && bytes[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                };
                out.push(Line {
                    content: start..content_end,
                    full: start..nl + 1,
                });
                start = nl + 1;
            }
            None => {
                out.push(Line {
                    content: start..text.len(),
                    full: start..text.len(),
                });
                start = text.len();
            }
        }
    }
    out
}

/// The file's dominant line ending (CRLF when most lines use it).
pub fn dominant_eol(text: &str) -> &'static str {
    let lf = text.matches('\n').count();
    let crlf = text.matches("\r\n").count();
    if crlf * 2 > lf { "\r\n" } else { "\n" }
}

/// A replacement of one byte range.
#[derive(Debug, Clone)]
pub struct Splice {
    pub range: Range<usize>,
    pub with: String,
}

/// Apply non-overlapping splices (any order).
pub fn apply(text: &str, mut splices: Vec<Splice>) -> String {
    splices.sort_by_key(|s| (s.range.start, s.range.end));
    let mut out = String::with_capacity(text.len() + 64);
    let mut pos = 0;
    for s in splices {
        let start = s.range.start.max(pos);
        out.push_str(&text[pos..start]);
        out.push_str(&s.with);
        pos = s.range.end.max(start);
    }
    out.push_str(&text[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16le_roundtrip() {
        let bytes = encode("name: x\r\n", Encoding::Utf16LeBom);
        assert_eq!(&bytes[..4], &[0xFF, 0xFE, b'n', 0]);
        assert_eq!(
            decode(&bytes).unwrap(),
            ("name: x\r\n".to_string(), Encoding::Utf16LeBom)
        );
    }

    #[test]
    fn refuses_binary() {
        assert!(decode(&[0xC3, 0x28]).is_err());
        assert!(decode(b"n\0a\0").is_err());
        assert!(decode(&[0xFF, 0xFE, 0x41]).is_err());
    }

    #[test]
    fn lines_keep_endings() {
        let t = "a\r\nb\nc";
        let ls = lines(t);
        assert_eq!(ls.len(), 3);
        assert_eq!(&t[ls[0].content.clone()], "a");
        assert_eq!(&t[ls[0].full.clone()], "a\r\n");
        assert!(!ls[2].has_ending());
        assert_eq!(dominant_eol(t), "\n");
        assert_eq!(dominant_eol("a\r\nb\r\n"), "\r\n");
    }
}

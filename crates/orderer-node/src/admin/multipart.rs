//! Just enough of `multipart/form-data` (RFC 7578) and media-type parameters to read
//! what `osnadmin channel join` sends: one file part named `config-block`.
//!
//! The body is already in memory and bounded by `ChannelParticipation.MaxRequestBodySize`,
//! so parts are slices of it. Lines may end in CRLF or, as Go's reader also accepts,
//! a bare LF.

use bytes::Bytes;

/// Why a media type (`Content-Type`, `Content-Disposition`) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MediaTypeError {
    #[error("no media type in {value:?}")]
    NoMediaType { value: String },
    #[error("invalid media parameter {rest:?}")]
    InvalidParameter { rest: String },
    #[error("invalid media parameter name {name:?}")]
    InvalidParameterName { name: String },
    #[error("unterminated quoted value of {name:?}")]
    UnterminatedQuote { name: String },
    #[error("invalid value {value:?} of media parameter {name:?}")]
    InvalidValue { value: String, name: String },
    /// `name` lowercased: parameter names are case-insensitive.
    #[error("duplicate media parameter {name:?}")]
    DuplicateParameter { name: String },
}

/// Why a `multipart/form-data` body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FormError {
    #[error("the boundary {boundary:?} must be 1 to 70 characters")]
    Boundary { boundary: String },
    #[error("no multipart delimiter in the body: expected --BOUNDARY")]
    NoDelimiter,
    #[error("a multipart delimiter is not followed by a line break")]
    NoLineBreak,
    #[error("unexpected end of the body: the last part has no closing delimiter")]
    NoClosingDelimiter,
    #[error("a part's headers do not end with an empty line")]
    HeadersNotEnded,
    #[error("a part header is not UTF-8")]
    HeaderNotUtf8,
    #[error("malformed part header {line:?}")]
    MalformedHeader { line: String },
    #[error("Content-Disposition of a part: {0}")]
    Disposition(#[source] MediaTypeError),
}

/// A media type (lowercased) and its parameters (names lowercased, values unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MediaType {
    pub(crate) essence: String,
    pub(crate) params: Vec<(String, String)>,
}

impl MediaType {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parses `type/subtype; name=value; name="quoted value"`.
pub(crate) fn parse_media_type(value: &str) -> Result<MediaType, MediaTypeError> {
    let (essence, mut rest) = match value.split_once(';') {
        Some((e, r)) => (e.trim(), r),
        None => (value.trim(), ""),
    };
    let valid_essence = match essence.split_once('/') {
        Some((t, s)) => is_token(t) && is_token(s),
        None => is_token(essence),
    };
    if !valid_essence {
        return Err(MediaTypeError::NoMediaType {
            value: value.to_owned(),
        });
    }
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        if rest.is_empty() {
            break;
        }
        let Some((name, after)) = rest.split_once('=') else {
            return Err(MediaTypeError::InvalidParameter {
                rest: rest.to_owned(),
            });
        };
        let name = name.trim();
        if !is_token(name) {
            return Err(MediaTypeError::InvalidParameterName {
                name: name.to_owned(),
            });
        }
        let (val, after) = if let Some(quoted) = after.strip_prefix('"') {
            unquote(quoted).ok_or_else(|| MediaTypeError::UnterminatedQuote {
                name: name.to_owned(),
            })?
        } else {
            let end = after.find(';').unwrap_or(after.len());
            let v = after[..end].trim();
            if !is_token(v) {
                return Err(MediaTypeError::InvalidValue {
                    value: v.to_owned(),
                    name: name.to_owned(),
                });
            }
            (v.to_owned(), &after[end..])
        };
        let name = name.to_ascii_lowercase();
        if params.iter().any(|(n, _)| *n == name) {
            return Err(MediaTypeError::DuplicateParameter { name });
        }
        params.push((name, val));
        rest = after;
    }
    Ok(MediaType {
        essence: essence.to_ascii_lowercase(),
        params,
    })
}

/// The value of a quoted string whose opening quote is consumed, and what follows it.
fn unquote(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => out.push(chars.next()?.1),
            c => out.push(c),
        }
    }
    None
}

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    /// The `name` of its `Content-Disposition: form-data`.
    pub(crate) name: String,
    /// The `filename`, when the part is a file.
    pub(crate) filename: Option<String>,
    pub(crate) data: Bytes,
}

/// The parts of a `multipart/form-data` body with `boundary`, in order. Parts that
/// are not `form-data` or have no name are skipped, as Go's `ReadForm` does.
pub(crate) fn parse_form(body: &Bytes, boundary: &str) -> Result<Vec<Part>, FormError> {
    if boundary.is_empty() || boundary.len() > 70 {
        return Err(FormError::Boundary {
            boundary: boundary.to_owned(),
        });
    }
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    // The first delimiter may start the body or follow a preamble line.
    let mut at = find_delimiter(body, delimiter, 0, true)
        .ok_or(FormError::NoDelimiter)?
        .1;
    let mut parts = Vec::new();
    loop {
        let mut cursor = at + delimiter.len();
        if body[cursor..].starts_with(b"--") {
            return Ok(parts);
        }
        // Transport padding, then the end of the delimiter line.
        while matches!(body.get(cursor), Some(b' ' | b'\t')) {
            cursor += 1;
        }
        cursor += line_end(&body[cursor..]).ok_or(FormError::NoLineBreak)?;
        let (content_end, next) =
            find_delimiter(body, delimiter, cursor, false).ok_or(FormError::NoClosingDelimiter)?;
        if let Some(part) = read_part(body.slice(cursor..content_end))? {
            parts.push(part);
        }
        at = next;
    }
}

/// Length of the line break at the start of `s` (CRLF or LF).
fn line_end(s: &[u8]) -> Option<usize> {
    if s.starts_with(b"\r\n") {
        Some(2)
    } else if s.starts_with(b"\n") {
        Some(1)
    } else {
        None
    }
}

/// Finds the next `delimiter` that starts a line at or after `from`: returns where the
/// preceding content ends (before its line break) and where the delimiter starts.
/// With `at_start`, a delimiter right at `from` counts too.
fn find_delimiter(
    body: &[u8],
    delimiter: &[u8],
    from: usize,
    at_start: bool,
) -> Option<(usize, usize)> {
    if at_start && body[from..].starts_with(delimiter) {
        return Some((from, from));
    }
    let mut i = from;
    while let Some(off) = body
        .get(i..)?
        .windows(delimiter.len())
        .position(|w| w == delimiter)
    {
        let start = i + off;
        if start > from && body[start - 1] == b'\n' {
            let content_end = if start >= from + 2 && body[start - 2] == b'\r' {
                start - 2
            } else {
                start - 1
            };
            return Some((content_end, start));
        }
        i = start + 1;
    }
    None
}

/// A part's headers and content; `None` for a part a form does not keep.
fn read_part(raw: Bytes) -> Result<Option<Part>, FormError> {
    let mut pos = 0;
    let mut disposition = None;
    loop {
        let line_len = raw[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(FormError::HeadersNotEnded)?;
        let line = &raw[pos..pos + line_len];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += line_len + 1;
        if line.is_empty() {
            break;
        }
        let line = std::str::from_utf8(line).map_err(|_| FormError::HeaderNotUtf8)?;
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| FormError::MalformedHeader {
                line: line.to_owned(),
            })?;
        if name.trim().eq_ignore_ascii_case("content-disposition") {
            disposition = Some(parse_media_type(value.trim()).map_err(FormError::Disposition)?);
        }
    }
    let Some(disposition) = disposition else {
        return Ok(None);
    };
    let Some(name) = disposition.param("name").filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if disposition.essence != "form-data" {
        return Ok(None);
    }
    Ok(Some(Part {
        name: name.to_owned(),
        filename: disposition
            .param("filename")
            .filter(|f| !f.is_empty())
            .map(str::to_owned),
        data: raw.slice(pos..),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_parse_with_quoted_and_plain_parameters() {
        let m =
            parse_media_type("multipart/form-data; boundary=\"a b\\\"c\"; Charset=utf-8").unwrap();
        assert_eq!(m.essence, "multipart/form-data");
        assert_eq!(m.param("boundary"), Some("a b\"c"));
        assert_eq!(m.param("charset"), Some("utf-8"));
        let m = parse_media_type("Multipart/Form-Data;boundary=xyz").unwrap();
        assert_eq!(m.essence, "multipart/form-data");
        assert_eq!(m.param("boundary"), Some("xyz"));
    }

    #[test]
    fn malformed_media_types_are_refused() {
        for bad in [
            "",
            "multipart/",
            "multipart/form-data; boundary",
            "multipart/form-data; boundary=\"open",
            "multipart/form-data; boundary=a b",
            "multipart/form-data; b=1; B=2",
        ] {
            assert!(parse_media_type(bad).is_err(), "{bad:?} should be refused");
        }
    }

    fn body(text: &str) -> Bytes {
        Bytes::from(text.replace('\n', "\r\n"))
    }

    #[test]
    fn a_go_style_form_yields_its_file_part_byte_for_byte() {
        // What Go's multipart.Writer writes for CreateFormFile("config-block", "config.block").
        let payload = "\u{0}\r\n--not-the-boundary\r\nbinary";
        let text = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"config-block\"; filename=\"config.block\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n{payload}\r\n--XyZ--\r\n"
        );
        let parts = parse_form(&Bytes::from(text), "XyZ").unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].name, "config-block");
        assert_eq!(parts[0].filename.as_deref(), Some("config.block"));
        assert_eq!(parts[0].data, payload.as_bytes());
    }

    #[test]
    fn preamble_values_empty_parts_and_bare_lf_are_read() {
        let text = "preamble\n--b\nContent-Disposition: form-data; name=\"x\"\n\nvalue\n--b\n\
                    Content-Disposition: form-data; name=\"f\"; filename=\"f.bin\"\n\n\n--b--\n";
        let parts = parse_form(&Bytes::from(text), "b").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].name.as_str(), &parts[0].data[..]),
            ("x", &b"value"[..])
        );
        assert_eq!(parts[0].filename, None);
        assert_eq!(parts[1].filename.as_deref(), Some("f.bin"));
        assert!(parts[1].data.is_empty());
        let crlf = parse_form(&body(text), "b").unwrap();
        assert_eq!(crlf, parts);
    }

    #[test]
    fn parts_without_a_form_name_are_skipped() {
        let text = body(
            "--b\nContent-Type: text/plain\n\nno disposition\n--b\n\
             Content-Disposition: attachment; name=\"a\"\n\nnot form-data\n--b--\n",
        );
        assert!(parse_form(&text, "b").unwrap().is_empty());
    }

    #[test]
    fn truncated_or_undelimited_bodies_are_errors_naming_the_problem() {
        let cases = [
            ("no delimiter at all", "no multipart delimiter"),
            (
                "--b\nContent-Disposition: form-data; name=\"a\"\n\ncut short",
                "closing delimiter",
            ),
            (
                "--b\nContent-Disposition: form-data; name=\"a\"\n--b--",
                "empty line",
            ),
            ("--bX\n", "line break"),
        ];
        for (text, why) in cases {
            let e = parse_form(&body(text), "b").unwrap_err();
            assert!(e.to_string().contains(why), "{text:?}: {e}");
        }
        assert!(
            parse_form(&body("--\n"), "")
                .unwrap_err()
                .to_string()
                .contains("boundary")
        );
    }
}

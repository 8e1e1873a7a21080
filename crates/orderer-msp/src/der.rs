//! The little DER this crate reads and writes by hand: splitting a structure into its
//! elements (to rebuild a certificate with another signature) and length octets.

/// Why bytes are not the DER this crate reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DerError {
    #[error("truncated DER: no tag")]
    NoTag,
    #[error("multi-byte DER tags are not supported")]
    MultiByteTag,
    #[error("truncated DER: no length")]
    NoLength,
    #[error("DER length is indefinite, too long or truncated")]
    BadLength,
    #[error("DER length is not minimal")]
    NonMinimalLength,
    #[error("truncated DER: {announced} bytes announced, {present} present")]
    Truncated { announced: usize, present: usize },
}

/// One DER element: its tag, its whole encoding and its contents.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Element<'a> {
    pub(crate) tag: u8,
    pub(crate) whole: &'a [u8],
    pub(crate) contents: &'a [u8],
}

/// The element at the start of `der` and what follows it. Only single-byte tags and
/// definite lengths of up to four octets (DER has nothing else in certificates).
pub(crate) fn element(der: &[u8]) -> Result<(Element<'_>, &[u8]), DerError> {
    let (&tag, rest) = der.split_first().ok_or(DerError::NoTag)?;
    if tag & 0x1f == 0x1f {
        return Err(DerError::MultiByteTag);
    }
    let (&first, rest) = rest.split_first().ok_or(DerError::NoLength)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(DerError::BadLength);
        }
        let (octets, rest) = rest.split_at(n);
        if octets[0] == 0 {
            return Err(DerError::NonMinimalLength);
        }
        let len = octets
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        if len < 0x80 {
            return Err(DerError::NonMinimalLength);
        }
        (len, rest)
    };
    if rest.len() < len {
        return Err(DerError::Truncated {
            announced: len,
            present: rest.len(),
        });
    }
    let header = der.len() - rest.len();
    let (contents, rest) = rest.split_at(len);
    Ok((
        Element {
            tag,
            whole: &der[..header + len],
            contents,
        },
        rest,
    ))
}

/// Appends DER length octets for `len`.
pub(crate) fn push_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.push(0x80 | (bytes.len() - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

/// Appends one element with `tag` and `contents`.
pub(crate) fn push_element(tag: u8, contents: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    push_len(contents.len(), out);
    out.extend_from_slice(contents);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_in_short_and_long_form() {
        for len in [0usize, 1, 0x7f, 0x80, 0xff, 0x100, 0x1234, 0x10000] {
            let contents = vec![7u8; len];
            let mut out = Vec::new();
            push_element(0x04, &contents, &mut out);
            let (e, rest) = element(&out).unwrap();
            assert!(rest.is_empty());
            assert_eq!(e.tag, 0x04);
            assert_eq!(e.contents.len(), len);
            assert_eq!(e.whole, &out[..]);
        }
    }

    #[test]
    fn malformed_lengths_are_refused() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x80],
            &[0x30, 0x81, 0x05],
            &[0x30, 0x02, 0x01],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x1f, 0x00],
        ] {
            assert!(element(bad).is_err(), "{bad:?}");
        }
    }
}

//! A minimal reader for `NumPy` `.npy` files holding golden outputs.
//!
//! Only what `np.save` writes for a C-ordered little-endian float or integer array is accepted;
//! anything else (pickled objects, Fortran order, big-endian) is refused with the reason.

/// A dense array converted to f64.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NpyArray {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

const MAGIC: &[u8] = b"\x93NUMPY";

pub(crate) fn parse(bytes: &[u8]) -> Result<NpyArray, String> {
    let rest = bytes.strip_prefix(MAGIC).ok_or("missing the \\x93NUMPY magic: not a .npy file")?;
    let (&major, rest) = rest.split_first().ok_or("truncated header")?;
    let (_minor, rest) = rest.split_first().ok_or("truncated header")?;
    let (header_len, rest) = match major {
        1 => {
            let (len, rest) = rest.split_at_checked(2).ok_or("truncated header")?;
            (usize::from(u16::from_le_bytes([len[0], len[1]])), rest)
        }
        2 | 3 => {
            let (len, rest) = rest.split_at_checked(4).ok_or("truncated header")?;
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]);
            (usize::try_from(len).map_err(|_| "header too large")?, rest)
        }
        v => return Err(format!("unsupported .npy format version {v}")),
    };
    let (header, data) = rest.split_at_checked(header_len).ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    let descr = dict_value(header, "descr").ok_or("header has no `descr`")?;
    let fortran = dict_value(header, "fortran_order").ok_or("header has no `fortran_order`")?;
    let shape = dict_value(header, "shape").ok_or("header has no `shape`")?;
    if fortran.trim() != "False" {
        return Err(
            "Fortran-ordered arrays are not supported; save with np.ascontiguousarray".into()
        );
    }
    let shape = parse_shape(shape)?;
    let count =
        shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or("shape is too large")?;
    let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"');
    let (size, convert): (usize, fn(&[u8]) -> f64) = match descr {
        "<f4" => (4, |b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        "<f8" => (8, |b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])),
        "<i4" => (4, |b| f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        "<i8" => (8, |b| {
            #[expect(clippy::cast_precision_loss, reason = "labels/golden ints are small")]
            let v = i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f64;
            v
        }),
        other => {
            return Err(format!(
                "dtype `{other}` is not supported; save float32/float64 (little-endian) arrays"
            ));
        }
    };
    let expected = count.checked_mul(size).ok_or("shape is too large")?;
    if data.len() != expected {
        return Err(format!(
            "expected {expected} data bytes for shape {shape:?}, found {} (truncated or padded file)",
            data.len()
        ));
    }
    let data = data.chunks_exact(size).map(convert).collect();
    Ok(NpyArray { shape, data })
}

/// The text after `'key':` up to the next top-level comma (tuples kept whole).
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let start = header.find(&format!("'{key}'")).or_else(|| header.find(&format!("\"{key}\"")))?;
    let after = &header[start + key.len() + 2..];
    let after = after.trim_start().strip_prefix(':')?.trim_start();
    if after.starts_with('(') {
        let end = after.find(')')?;
        return Some(&after[..=end]);
    }
    let end = after.find([',', '}']).unwrap_or(after.len());
    Some(&after[..end])
}

fn parse_shape(shape: &str) -> Result<Vec<usize>, String> {
    let inner = shape
        .trim()
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| format!("shape `{shape}` is not a tuple"))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|d| {
            d.parse::<usize>().map_err(|_| format!("shape `{shape}` has a bad dimension `{d}`"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while !(MAGIC.len() + 4 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut out = MAGIC.to_vec();
        out.extend([1, 0]);
        out.extend(u16::try_from(header.len()).unwrap().to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn reads_f32_matrix() {
        let data: Vec<u8> =
            [1.0f32, 2.5, -3.0, 0.25].iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = parse(&npy("<f4", "(2, 2)", &data)).unwrap();
        assert_eq!(a.shape, [2, 2]);
        assert_eq!(a.data, [1.0, 2.5, -3.0, 0.25]);
    }

    #[test]
    fn reads_1d_f64() {
        let data: Vec<u8> = [0.5f64, 7.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = parse(&npy("<f8", "(2,)", &data)).unwrap();
        assert_eq!(a.shape, [2]);
        assert_eq!(a.data, [0.5, 7.0]);
    }

    #[test]
    fn truncated_data_is_reported() {
        let err = parse(&npy("<f4", "(2, 2)", &[0; 12])).unwrap_err();
        assert!(err.contains("expected 16 data bytes"), "{err}");
    }

    #[test]
    fn object_arrays_are_refused() {
        let err = parse(&npy("|O", "(2,)", &[0; 16])).unwrap_err();
        assert!(err.contains("`|O` is not supported"), "{err}");
    }

    #[test]
    fn garbage_is_not_npy() {
        assert!(parse(b"").is_err());
        assert!(parse(b"\x93NUMPY\x01").is_err());
        assert!(parse(b"hello world").is_err());
    }
}

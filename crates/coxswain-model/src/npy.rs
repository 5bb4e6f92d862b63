//! The `NumPy` `.npy` format: header parsing and element decoding.
//!
//! Hand-written rather than a crate: the header is a short Python dict literal with three keys,
//! the gate needs it from a *stream* (an entry inside a deflated `.npz`) so that a large array is
//! never read whole, and owning the parser lets every error say which array and what to do.
//! Only what `np.save` writes for C-ordered little-endian numeric arrays is accepted; anything
//! else (pickled objects, Fortran order, big-endian, strings) is refused with the reason.

use std::io::Read;

use tract_onnx::prelude::{DatumType, Tensor, f16};

/// Element types the gate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NpyDtype {
    F16,
    F32,
    F64,
    I8,
    I32,
    I64,
    U8,
    Bool,
}

impl NpyDtype {
    fn from_descr(descr: &str) -> Result<NpyDtype, NpyError> {
        Ok(match descr {
            "<f2" => NpyDtype::F16,
            "<f4" => NpyDtype::F32,
            "<f8" => NpyDtype::F64,
            "|i1" => NpyDtype::I8,
            "<i4" => NpyDtype::I32,
            "<i8" => NpyDtype::I64,
            "|u1" => NpyDtype::U8,
            "|b1" => NpyDtype::Bool,
            other if other.starts_with('>') => {
                return Err(NpyError::BigEndian { descr: other.to_owned() });
            }
            other => return Err(NpyError::UnsupportedDtype { descr: other.to_owned() }),
        })
    }

    pub fn size(self) -> usize {
        match self {
            NpyDtype::I8 | NpyDtype::U8 | NpyDtype::Bool => 1,
            NpyDtype::F16 => 2,
            NpyDtype::F32 | NpyDtype::I32 => 4,
            NpyDtype::F64 | NpyDtype::I64 => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            NpyDtype::F16 => "f16",
            NpyDtype::F32 => "f32",
            NpyDtype::F64 => "f64",
            NpyDtype::I8 => "i8",
            NpyDtype::I32 => "i32",
            NpyDtype::I64 => "i64",
            NpyDtype::U8 => "u8",
            NpyDtype::Bool => "bool",
        }
    }

    /// The numpy spelling, for messages that tell the user how to convert.
    pub fn numpy_name(self) -> &'static str {
        match self {
            NpyDtype::F16 => "float16",
            NpyDtype::F32 => "float32",
            NpyDtype::F64 => "float64",
            NpyDtype::I8 => "int8",
            NpyDtype::I32 => "int32",
            NpyDtype::I64 => "int64",
            NpyDtype::U8 => "uint8",
            NpyDtype::Bool => "bool_",
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, NpyDtype::F16 | NpyDtype::F32 | NpyDtype::F64)
    }

    /// Little-endian bytes of `v` in this type (CSV cells are parsed as f64 and converted the way
    /// numpy's `astype` does: truncation toward zero for integers, `!= 0` for bool).
    #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "astype semantics")]
    pub fn push_f64(self, v: f64, out: &mut Vec<u8>) {
        match self {
            NpyDtype::F16 => out.extend(f16::from_f64(v).to_le_bytes()),
            NpyDtype::F32 => out.extend((v as f32).to_le_bytes()),
            NpyDtype::F64 => out.extend(v.to_le_bytes()),
            NpyDtype::I8 => out.extend((v as i8).to_le_bytes()),
            NpyDtype::I32 => out.extend((v as i32).to_le_bytes()),
            NpyDtype::I64 => out.extend((v as i64).to_le_bytes()),
            NpyDtype::U8 => out.push(v as u8),
            NpyDtype::Bool => out.push(u8::from(v != 0.0)),
        }
    }

    pub fn datum_type(self) -> DatumType {
        use tract_onnx::prelude::Datum;
        match self {
            NpyDtype::F16 => f16::datum_type(),
            NpyDtype::F32 => f32::datum_type(),
            NpyDtype::F64 => f64::datum_type(),
            NpyDtype::I8 => i8::datum_type(),
            NpyDtype::I32 => i32::datum_type(),
            NpyDtype::I64 => i64::datum_type(),
            NpyDtype::U8 => u8::datum_type(),
            NpyDtype::Bool => bool::datum_type(),
        }
    }
}

/// What the header says about the data that follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NpyHeader {
    pub dtype: NpyDtype,
    pub shape: Vec<usize>,
    /// Bytes from the start of the `.npy` stream to the first data byte.
    pub header_len: u64,
}

impl NpyHeader {
    /// Bytes of data the shape and dtype call for.
    pub fn data_len(&self) -> Option<u64> {
        self.shape.iter().try_fold(self.dtype.size() as u64, |acc, &d| acc.checked_mul(d as u64))
    }
}

const MAGIC: &[u8] = b"\x93NUMPY";
/// numpy itself caps headers far below this; a larger one is corrupt.
const MAX_HEADER: usize = 1 << 20;

/// Reads the header from the start of a `.npy` stream, leaving `r` at the first data byte.
pub(crate) fn read_header(r: &mut dyn Read) -> Result<NpyHeader, NpyError> {
    let eof = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            NpyError::Truncated
        } else {
            NpyError::Unreadable(e)
        }
    };
    let mut start = [0u8; 8];
    r.read_exact(&mut start).map_err(eof)?;
    if !start.starts_with(MAGIC) {
        return Err(NpyError::NoMagic);
    }
    let major = start[6];
    let (len, prefix) = match major {
        1 => {
            let mut len = [0u8; 2];
            r.read_exact(&mut len).map_err(eof)?;
            (usize::from(u16::from_le_bytes(len)), 10)
        }
        2 | 3 => {
            let mut len = [0u8; 4];
            r.read_exact(&mut len).map_err(eof)?;
            (usize::try_from(u32::from_le_bytes(len)).unwrap_or(usize::MAX), 12)
        }
        v => return Err(NpyError::Version(v)),
    };
    if len > MAX_HEADER {
        return Err(NpyError::HeaderTooLarge(len));
    }
    let mut header = vec![0u8; len];
    r.read_exact(&mut header).map_err(eof)?;
    let header = std::str::from_utf8(&header).map_err(|_| NpyError::HeaderNotText)?;
    let descr = dict_value(header, "descr").ok_or(NpyError::MissingKey("descr"))?;
    let fortran =
        dict_value(header, "fortran_order").ok_or(NpyError::MissingKey("fortran_order"))?;
    let shape = dict_value(header, "shape").ok_or(NpyError::MissingKey("shape"))?;
    if fortran.trim() != "False" {
        return Err(NpyError::FortranOrder);
    }
    let dtype = NpyDtype::from_descr(descr.trim().trim_matches(|c| c == '\'' || c == '"'))?;
    let shape = parse_shape(shape)?;
    let header = NpyHeader { dtype, shape, header_len: (prefix + len) as u64 };
    header.data_len().ok_or(NpyError::ShapeTooLarge)?;
    Ok(header)
}

/// A dense array converted to f64.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NpyArray {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// Parses a whole `.npy` file held in memory.
#[cfg(test)]
pub(crate) fn parse(bytes: &[u8]) -> Result<NpyArray, NpyError> {
    let mut r = bytes;
    let header = read_header(&mut r)?;
    let expected = header.data_len().and_then(|n| usize::try_from(n).ok()).unwrap_or(usize::MAX);
    if r.len() != expected {
        return Err(NpyError::DataLength { expected, shape: header.shape, found: r.len() });
    }
    Ok(NpyArray { data: to_f64(header.dtype, r), shape: header.shape })
}

/// Decodes little-endian elements to f64 (i64 beyond 2^53 loses precision; labels are small).
pub(crate) fn to_f64(dtype: NpyDtype, bytes: &[u8]) -> Vec<f64> {
    let n = dtype.size();
    let chunks = bytes.chunks_exact(n);
    match dtype {
        NpyDtype::F16 => chunks.map(|b| f16::from_le_bytes([b[0], b[1]]).to_f64()).collect(),
        NpyDtype::F32 => {
            chunks.map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))).collect()
        }
        NpyDtype::F64 => chunks.map(|b| f64::from_le_bytes(le8(b))).collect(),
        NpyDtype::I8 => chunks.map(|b| f64::from(i8::from_le_bytes([b[0]]))).collect(),
        NpyDtype::I32 => {
            chunks.map(|b| f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))).collect()
        }
        NpyDtype::I64 => chunks.map(|b| i64::from_le_bytes(le8(b)) as f64).collect(),
        NpyDtype::U8 => bytes.iter().map(|b| f64::from(*b)).collect(),
        NpyDtype::Bool => bytes.iter().map(|b| f64::from(u8::from(*b != 0))).collect(),
    }
}

fn le8(b: &[u8]) -> [u8; 8] {
    [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]
}

/// Builds a tract tensor from little-endian elements. Decoding element by element (instead of
/// reinterpreting the buffer) keeps this safe and correct on any host byte order, and checks
/// that bool bytes are 0 or 1.
pub(crate) fn to_tensor(
    dtype: NpyDtype,
    shape: &[usize],
    bytes: &[u8],
) -> Result<Tensor, NpyError> {
    let n = dtype.size();
    let chunks = bytes.chunks_exact(n);
    let tensor = match dtype {
        NpyDtype::F16 => Tensor::from_shape(
            shape,
            &chunks.map(|b| f16::from_le_bytes([b[0], b[1]])).collect::<Vec<_>>(),
        ),
        NpyDtype::F32 => Tensor::from_shape(
            shape,
            &chunks.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect::<Vec<_>>(),
        ),
        NpyDtype::F64 => Tensor::from_shape(
            shape,
            &chunks.map(|b| f64::from_le_bytes(le8(b))).collect::<Vec<_>>(),
        ),
        NpyDtype::I8 => Tensor::from_shape(
            shape,
            &chunks.map(|b| i8::from_le_bytes([b[0]])).collect::<Vec<_>>(),
        ),
        NpyDtype::I32 => Tensor::from_shape(
            shape,
            &chunks.map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect::<Vec<_>>(),
        ),
        NpyDtype::I64 => Tensor::from_shape(
            shape,
            &chunks.map(|b| i64::from_le_bytes(le8(b))).collect::<Vec<_>>(),
        ),
        NpyDtype::U8 => Tensor::from_shape(shape, bytes),
        NpyDtype::Bool => {
            if let Some(pos) = bytes.iter().position(|b| *b > 1) {
                return Err(NpyError::BoolByte { position: pos, byte: bytes[pos] });
            }
            Tensor::from_shape(shape, &bytes.iter().map(|b| *b == 1).collect::<Vec<_>>())
        }
    };
    tensor.map_err(|e| NpyError::Tensor(e.to_string()))
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

fn parse_shape(shape: &str) -> Result<Vec<usize>, NpyError> {
    let inner = shape
        .trim()
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| NpyError::ShapeNotTuple { shape: shape.to_owned() })?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|d| {
            d.parse::<usize>().map_err(|_| NpyError::BadDimension {
                shape: shape.to_owned(),
                dimension: d.to_owned(),
            })
        })
        .collect()
}

/// Why a `.npy` array cannot be read; the texts say how to save one that can.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NpyError {
    #[error("dtype `{descr}` is big-endian; save with arr.astype(arr.dtype.newbyteorder('<'))")]
    BigEndian { descr: String },
    #[error("dtype `{descr}` is not supported; use float16/32/64, int8/32/64, uint8 or bool")]
    UnsupportedDtype { descr: String },
    #[error("truncated header: not a complete .npy array")]
    Truncated,
    #[error("cannot read the header: {0}")]
    Unreadable(std::io::Error),
    #[error("missing the \\x93NUMPY magic: not a .npy array")]
    NoMagic,
    #[error("unsupported .npy format version {0}")]
    Version(u8),
    #[error("header of {0} bytes is implausibly large: corrupt file")]
    HeaderTooLarge(usize),
    #[error("header is not text")]
    HeaderNotText,
    #[error("header has no `{0}`")]
    MissingKey(&'static str),
    #[error("Fortran-ordered arrays are not supported; save with np.ascontiguousarray")]
    FortranOrder,
    #[error("shape `{shape}` is not a tuple")]
    ShapeNotTuple { shape: String },
    #[error("shape `{shape}` has a bad dimension `{dimension}`")]
    BadDimension { shape: String, dimension: String },
    #[error("shape is too large")]
    ShapeTooLarge,
    #[cfg(test)]
    #[error(
        "expected {expected} data bytes for shape {shape:?}, found {found} (truncated or padded \
         file)"
    )]
    DataLength { expected: usize, shape: Vec<usize>, found: usize },
    #[error("bool element {position} of the batch holds byte {byte}, not 0 or 1")]
    BoolByte { position: usize, byte: u8 },
    #[error("{0}")]
    Tensor(String),
}

/// A `.npy` file image: used by the tests to write fixtures.
#[cfg(test)]
pub(crate) fn encode(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    let shape =
        if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while !(MAGIC.len() + 4 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = MAGIC.to_vec();
    out.extend([1, 0]);
    out.extend(u16::try_from(header.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

#[cfg(test)]
#[allow(clippy::float_cmp, reason = "the expected values are exactly representable")]
mod tests {
    use super::*;

    #[test]
    fn reads_f32_matrix() {
        let data: Vec<u8> =
            [1.0f32, 2.5, -3.0, 0.25].iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = parse(&encode("<f4", &[2, 2], &data)).unwrap();
        assert_eq!(a.shape, [2, 2]);
        assert_eq!(a.data, [1.0, 2.5, -3.0, 0.25]);
    }

    #[test]
    fn reads_1d_f64() {
        let data: Vec<u8> = [0.5f64, 7.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = parse(&encode("<f8", &[2], &data)).unwrap();
        assert_eq!(a.shape, [2]);
        assert_eq!(a.data, [0.5, 7.0]);
    }

    #[test]
    fn every_supported_dtype_decodes() {
        let cases: [(&str, Vec<u8>, f64); 8] = [
            ("<f2", f16::from_f32(1.5).to_le_bytes().to_vec(), 1.5),
            ("<f4", (-2.0f32).to_le_bytes().to_vec(), -2.0),
            ("<f8", 3.25f64.to_le_bytes().to_vec(), 3.25),
            ("|i1", (-4i8).to_le_bytes().to_vec(), -4.0),
            ("<i4", 5i32.to_le_bytes().to_vec(), 5.0),
            ("<i8", (-6i64).to_le_bytes().to_vec(), -6.0),
            ("|u1", vec![200], 200.0),
            ("|b1", vec![1], 1.0),
        ];
        for (descr, bytes, want) in cases {
            let a = parse(&encode(descr, &[1], &bytes)).unwrap();
            assert_eq!(a.data, [want], "{descr}");
            let header = read_header(&mut encode(descr, &[1], &bytes).as_slice()).unwrap();
            let t = to_tensor(header.dtype, &[1], &bytes).unwrap();
            assert_eq!(t.datum_type(), header.dtype.datum_type(), "{descr}");
        }
    }

    #[test]
    fn bool_bytes_other_than_0_1_are_refused() {
        let err = to_tensor(NpyDtype::Bool, &[3], &[0, 1, 7]).unwrap_err().to_string();
        assert!(err.contains("element 2"), "{err}");
    }

    #[test]
    fn truncated_data_is_reported() {
        let err = parse(&encode("<f4", &[2, 2], &[0; 12])).unwrap_err().to_string();
        assert!(err.contains("expected 16 data bytes"), "{err}");
    }

    #[test]
    fn object_and_big_endian_arrays_are_refused() {
        let err = parse(&encode("|O", &[2], &[0; 16])).unwrap_err().to_string();
        assert!(err.contains("`|O` is not supported"), "{err}");
        let err = parse(&encode(">f4", &[1], &[0; 4])).unwrap_err().to_string();
        assert!(err.contains("big-endian"), "{err}");
    }

    #[test]
    fn garbage_is_not_npy() {
        assert!(parse(b"").is_err());
        assert!(parse(b"\x93NUMPY\x01").is_err());
        assert!(parse(b"hello world").is_err());
        // A header length pointing past the end.
        assert!(
            parse(b"\x93NUMPY\x01\x00\xff\x00{").unwrap_err().to_string().contains("truncated")
        );
    }
}

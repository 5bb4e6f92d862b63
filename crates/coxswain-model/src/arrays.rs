//! Named arrays the gate reads batch by batch: `.npy` files, entries of `.npz` bundles, and the
//! feature matrix of a CSV (held in memory).
//!
//! Streaming is the point: a `.npz` of image batches can be far larger than the memory the gate
//! should take, so only the zip's central directory and each array's `.npy` header are read up
//! front; rows are then read in batches from a fresh stream per pass. The zip crate parses the
//! directory (zip64 included); the entry's bytes are read from the file directly (stored
//! entries) or through flate2 (deflated entries, as `np.savez_compressed` writes), with the
//! CRC-32 checked at the end of the entry. Decoding deflate here instead of through the zip
//! crate's `ZipFile` keeps one open stream per array without borrowing the archive.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::read::DeflateDecoder;
use tract_onnx::prelude::Tensor;

use crate::error::ValidationError;
use crate::npy::{self, NpyDtype};

/// Where an array's element bytes live.
#[derive(Debug, Clone)]
enum Source {
    /// Little-endian element bytes (a CSV converted to the input's dtype).
    Memory(Arc<Vec<u8>>),
    /// A `.npy` stream at `offset` in `path`, `len` bytes long as stored.
    File { path: PathBuf, offset: u64, len: u64, deflated: bool, crc: Option<u32> },
}

/// One array: its name, element type, shape (rows first) and where to read it.
#[derive(Debug, Clone)]
pub(crate) struct ArrayInfo {
    /// The array's name in the bundle (the `.npz` entry without `.npy`, or the file stem).
    pub name: String,
    /// The file it came from, for messages (`data.npz`, `data/x.npy`).
    pub file: String,
    pub dtype: NpyDtype,
    pub shape: Vec<usize>,
    source: Source,
    /// Bytes of `.npy` header before the data, inside the (decompressed) stream.
    header_len: u64,
}

impl ArrayInfo {
    /// Rows: the first dimension (1 for a 0-d array).
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }

    /// Elements per row.
    pub fn row_len(&self) -> usize {
        self.shape.iter().skip(1).product()
    }

    pub fn row_bytes(&self) -> usize {
        self.row_len() * self.dtype.size()
    }

    /// `shape` as numpy prints it.
    pub fn shape_text(&self) -> String {
        shape_text(&self.shape)
    }

    /// In-memory array of `rows × row_shape` elements (already little-endian in `dtype`).
    pub fn memory(
        name: &str,
        file: &str,
        dtype: NpyDtype,
        shape: Vec<usize>,
        bytes: Vec<u8>,
    ) -> Self {
        ArrayInfo {
            name: name.to_owned(),
            file: file.to_owned(),
            dtype,
            shape,
            source: Source::Memory(Arc::new(bytes)),
            header_len: 0,
        }
    }

    fn error(&self, reason: impl Into<String>) -> ValidationError {
        ValidationError::DatasetArray {
            file: self.file.clone(),
            array: self.name.clone(),
            reason: reason.into(),
        }
    }

    /// A fresh stream positioned at the first row.
    pub fn open(&self) -> Result<Cursor, ValidationError> {
        let reader: Box<dyn Read + Send> = match &self.source {
            Source::Memory(bytes) => Box::new(io::Cursor::new(SharedBytes(Arc::clone(bytes)))),
            Source::File { path, offset, len, deflated, crc } => {
                let mut stream = open_stream(path, *offset, *len, *deflated, *crc)
                    .map_err(|e| self.error(format!("cannot read: {e}")))?;
                skip(&mut stream, self.header_len).map_err(|e| self.error(io_reason(&e)))?;
                stream
            }
        };
        Ok(Cursor { info: self.clone(), reader, row: 0 })
    }

    /// Every element as f64 (labels); refuses arrays over `max_bytes` of data.
    pub fn read_all_f64(&self, max_bytes: u64) -> Result<Vec<f64>, ValidationError> {
        let bytes = (self.rows() * self.row_bytes()) as u64;
        if bytes > max_bytes {
            return Err(self.error(format!(
                "{bytes} bytes of data exceeds the {max_bytes}-byte limit for an array read whole"
            )));
        }
        let mut cursor = self.open()?;
        cursor.read_f64(self.rows())
    }
}

/// Sequential reader of one array's rows.
pub(crate) struct Cursor {
    info: ArrayInfo,
    reader: Box<dyn Read + Send>,
    row: usize,
}

impl Cursor {
    /// The next `n` rows as raw little-endian bytes; at the last row, the stream is read to its
    /// end so that a CRC mismatch or trailing bytes surface.
    fn read_bytes(&mut self, n: usize) -> Result<Vec<u8>, ValidationError> {
        let rows = self.info.rows();
        if self.row + n > rows {
            return Err(self.info.error(format!(
                "asked for rows {}..{} of {rows}: the arrays of the dataset disagree on rows",
                self.row,
                self.row + n
            )));
        }
        let mut buf = vec![0u8; n * self.info.row_bytes()];
        self.reader.read_exact(&mut buf).map_err(|e| {
            self.info.error(if e.kind() == io::ErrorKind::UnexpectedEof {
                format!(
                    "the data ends inside rows {}..{} of {rows}: the file is truncated",
                    self.row,
                    self.row + n
                )
            } else {
                io_reason(&e)
            })
        })?;
        self.row += n;
        if self.row == rows {
            let mut probe = [0u8; 1];
            match self.reader.read(&mut probe) {
                Ok(0) => {}
                Ok(_) => return Err(self.info.error("holds more data than its shape declares")),
                Err(e) => return Err(self.info.error(io_reason(&e))),
            }
        }
        Ok(buf)
    }

    /// The next `n` rows as a tensor shaped `[n, row dims…]`.
    pub fn read_tensor(&mut self, n: usize) -> Result<Tensor, ValidationError> {
        let bytes = self.read_bytes(n)?;
        let mut shape = self.info.shape.clone();
        if let Some(first) = shape.first_mut() {
            *first = n;
        }
        npy::to_tensor(self.info.dtype, &shape, &bytes)
            .map_err(|reason| self.info.error(reason.to_string()))
    }

    /// The next `n` rows as f64 values, row-major.
    pub fn read_f64(&mut self, n: usize) -> Result<Vec<f64>, ValidationError> {
        let bytes = self.read_bytes(n)?;
        Ok(npy::to_f64(self.info.dtype, &bytes))
    }
}

/// `Arc<Vec<u8>>` as `AsRef<[u8]>`, so in-memory arrays share one buffer across passes.
struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "the data ends early: the file is truncated".into(),
        _ => e.to_string(),
    }
}

fn skip(r: &mut dyn Read, n: u64) -> io::Result<()> {
    let copied = io::copy(&mut r.take(n), &mut io::sink())?;
    if copied < n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// `len` stored bytes at `offset`, inflated when `deflated`, CRC-checked at the end when `crc`.
fn open_stream(
    path: &Path,
    offset: u64,
    len: u64,
    deflated: bool,
    crc: Option<u32>,
) -> io::Result<Box<dyn Read + Send>> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let raw = BufReader::with_capacity(1 << 16, file.take(len));
    let inner: Box<dyn Read + Send> =
        if deflated { Box::new(DeflateDecoder::new(raw)) } else { Box::new(raw) };
    Ok(match crc {
        Some(expected) => Box::new(CrcCheck { inner, hasher: crc32fast::Hasher::new(), expected }),
        None => inner,
    })
}

/// Verifies a zip entry's CRC-32 when its stream ends.
struct CrcCheck {
    inner: Box<dyn Read + Send>,
    hasher: crc32fast::Hasher,
    expected: u32,
}

impl Read for CrcCheck {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let actual = self.hasher.clone().finalize();
            if actual != self.expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "CRC-32 mismatch (stored {:08x}, computed {actual:08x}): the file is corrupt",
                        self.expected
                    ),
                ));
            }
        }
        self.hasher.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// `(2, 3)` / `(5,)` as numpy prints shapes.
pub(crate) fn shape_text(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!("({})", shape.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
    }
}

fn file_error(file: &str, reason: impl Into<String>) -> ValidationError {
    ValidationError::DatasetFile { file: file.to_owned(), reason: reason.into() }
}

/// The arrays of a `.npz` bundle, in the archive's order.
pub(crate) fn open_npz(path: &Path, file: &str) -> Result<Vec<ArrayInfo>, ValidationError> {
    let handle = File::open(path).map_err(|e| file_error(file, e.to_string()))?;
    let file_len = handle.metadata().map_err(|e| file_error(file, e.to_string()))?.len();
    let mut archive = zip::ZipArchive::new(BufReader::new(handle)).map_err(|e| {
        file_error(file, format!("not a readable .npz (zip) archive ({e}); is the file truncated?"))
    })?;
    let mut arrays = Vec::new();
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|e| file_error(file, format!("zip entry {index}: {e}")))?;
        let entry_name = entry.name().map(std::borrow::Cow::into_owned).unwrap_or_default();
        let Some(name) = entry_name.strip_suffix(".npy") else {
            continue; // np.savez writes only .npy entries; anything else is not an array
        };
        let array_error = |reason: String| ValidationError::DatasetArray {
            file: file.to_owned(),
            array: name.to_owned(),
            reason,
        };
        if entry.encrypted() {
            return Err(array_error("the entry is encrypted".into()));
        }
        let deflated = match entry.compression() {
            zip::CompressionMethod::Stored => false,
            zip::CompressionMethod::Deflated => true,
            other => {
                return Err(array_error(format!(
                    "the entry is compressed with {other}; write the bundle with np.savez or np.savez_compressed"
                )));
            }
        };
        let Some(offset) = entry.data_start() else {
            return Err(array_error("the zip entry's data offset is unknown".into()));
        };
        let (len, size, crc) = (entry.compressed_size(), entry.size(), entry.crc32());
        drop(entry);
        if offset.checked_add(len).is_none_or(|end| end > file_len) {
            return Err(array_error(format!(
                "the entry's {len} bytes run past the end of the file ({file_len} bytes): the file is truncated"
            )));
        }
        let mut stream = open_stream(path, offset, len, deflated, None)
            .map_err(|e| array_error(format!("cannot read: {e}")))?;
        let header = npy::read_header(&mut stream).map_err(|e| array_error(e.to_string()))?;
        let data = header.data_len().unwrap_or(u64::MAX);
        if header.header_len.checked_add(data) != Some(size) {
            return Err(array_error(format!(
                "shape {} of {} needs {data} bytes of data, but the entry holds {}",
                shape_text(&header.shape),
                header.dtype.name(),
                size.saturating_sub(header.header_len)
            )));
        }
        arrays.push(ArrayInfo {
            name: name.to_owned(),
            file: file.to_owned(),
            dtype: header.dtype,
            shape: header.shape,
            source: Source::File { path: path.to_owned(), offset, len, deflated, crc: Some(crc) },
            header_len: header.header_len,
        });
    }
    if arrays.is_empty() {
        return Err(file_error(file, "the archive holds no .npy arrays"));
    }
    Ok(arrays)
}

/// One `.npy` file as an array named `name`.
pub(crate) fn open_npy(path: &Path, file: &str, name: &str) -> Result<ArrayInfo, ValidationError> {
    let array_error = |reason: String| ValidationError::DatasetArray {
        file: file.to_owned(),
        array: name.to_owned(),
        reason,
    };
    let handle = File::open(path).map_err(|e| array_error(e.to_string()))?;
    let len = handle.metadata().map_err(|e| array_error(e.to_string()))?.len();
    let header =
        npy::read_header(&mut BufReader::new(handle)).map_err(|e| array_error(e.to_string()))?;
    let data = header.data_len().unwrap_or(u64::MAX);
    if header.header_len.checked_add(data) != Some(len) {
        return Err(array_error(format!(
            "shape {} of {} needs {data} bytes of data, but the file holds {}: truncated or padded",
            shape_text(&header.shape),
            header.dtype.name(),
            len.saturating_sub(header.header_len)
        )));
    }
    Ok(ArrayInfo {
        name: name.to_owned(),
        file: file.to_owned(),
        dtype: header.dtype,
        shape: header.shape,
        source: Source::File { path: path.to_owned(), offset: 0, len, deflated: false, crc: None },
        header_len: header.header_len,
    })
}

/// Every `NAME.npy` in a folder, sorted by name.
pub(crate) fn open_npy_dir(dir: &Path, file: &str) -> Result<Vec<ArrayInfo>, ValidationError> {
    let entries = std::fs::read_dir(dir).map_err(|e| file_error(file, e.to_string()))?;
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| file_error(file, e.to_string()))?.path();
        if path.extension().is_some_and(|e| e == "npy") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(file_error(file, "the folder holds no .npy files"));
    }
    paths
        .iter()
        .map(|p| {
            let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let shown = format!("{}/{stem}.npy", file.trim_end_matches('/'));
            open_npy(p, &shown, &stem)
        })
        .collect()
}

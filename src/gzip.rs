//! Gzip for what Coxswain keeps in the cluster (history manifests, large inventories), with
//! inflation capped: a few hundred KB of gzip can expand to gigabytes, and a planted object must
//! not exhaust memory.

use std::io::{Read as _, Write as _};

/// Inflating stops here.
pub const MAX_INFLATED_BYTES: u64 = 64 * 1024 * 1024;

/// Why compressed bytes could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InflateError {
    #[error("{0}")]
    NotGzip(std::io::Error),
    #[error("inflates past {MAX_INFLATED_BYTES} bytes")]
    TooLarge,
}

/// `bytes`, gzipped.
pub fn compress(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// The inflated bytes of `gzip`, refused past [`MAX_INFLATED_BYTES`].
pub fn inflate(gzip: &[u8]) -> Result<Vec<u8>, InflateError> {
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(gzip)
        .take(MAX_INFLATED_BYTES + 1)
        .read_to_end(&mut inflated)
        .map_err(InflateError::NotGzip)?;
    if inflated.len() as u64 > MAX_INFLATED_BYTES {
        return Err(InflateError::TooLarge);
    }
    Ok(inflated)
}

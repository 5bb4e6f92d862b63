//! Reasons the gate could not produce a verdict at all.
//!
//! A model that loads but misses a threshold or the declared contract is not an error: that is a
//! failed check in the report. Errors are for inputs the gate cannot evaluate, and every message
//! names the file it is about and says what to do.

use std::time::Duration;

/// Why validation could not run to a verdict.
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error("invalid validation spec: `{field}` {reason}")]
    InvalidSpec { field: String, reason: String },

    #[error("{file}: file not found; check the path (it is relative to the repository root)")]
    NotFound { file: String },

    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{file}: {reason}; model and data paths must stay inside the repository")]
    OutsideRepo { file: String, reason: String },

    #[error(
        "{file}: {size} bytes exceeds the {limit}-byte limit; raise the limit if the file is expected"
    )]
    TooLarge { file: String, size: u64, limit: u64 },

    #[error("{file}: not an ONNX model ({reason})")]
    NotOnnx { file: String, reason: String },

    #[error(
        "{file}: operator `{op}` (node `{node}`) is not supported by tract; re-export the model \
         without it (e.g. skl2onnx options={{\"zipmap\": False}}) or choose another estimator"
    )]
    UnsupportedOperator { file: String, op: String, node: String },

    #[error("{file}: the model cannot be loaded: {reason}")]
    InvalidModel { file: String, reason: String },

    #[error("{file}: inference failed: {reason}")]
    Inference { file: String, reason: String },

    #[error("{file}: tract panicked while {stage}: {message}; the model graph is malformed")]
    Panic { file: String, stage: String, message: String },

    #[error(
        "{file}: loading and running the model took longer than {limit:?}; raise the limit or use a smaller dataset"
    )]
    Timeout { file: String, limit: Duration },

    #[error(
        "{file}: unsupported dataset format; use a CSV file with a header row, a .npz bundle \
         (np.savez) or a folder of .npy files"
    )]
    UnsupportedDataset { file: String },

    #[error("{file}: {reason}")]
    DatasetFile { file: String, reason: String },

    #[error("{file}: array `{array}`: {reason}")]
    DatasetArray { file: String, array: String, reason: String },

    #[error("{file}: the dataset has a header but no rows")]
    EmptyDataset { file: String },

    #[error("{file}:{line}: expected {expected} columns (as in the header), found {found}")]
    DatasetColumns { file: String, line: usize, expected: usize, found: usize },

    #[error("{file}:{line}: column `{column}`: {reason}")]
    DatasetCell { file: String, line: usize, column: String, reason: String },

    #[error("{file}: label column `{column}` not found; the header has: {available}")]
    LabelColumnMissing { file: String, column: String, available: String },

    #[error("{file}: cannot read golden outputs: {reason}")]
    Golden { file: String, reason: String },
}

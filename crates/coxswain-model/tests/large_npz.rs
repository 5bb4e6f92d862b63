//! A 500 MB `.npz` is streamed, never loaded whole: the process's peak resident memory stays far
//! below the array's size. Its own test binary, so no other test shares the process's memory.

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::time::Duration;

use common::{D, F32, Repo, model, node, npy, spec, value_info};
use coxswain_model::{Limits, ValidationReport, validate};
use tract_onnx::pb;

const ROWS: usize = 128_000;
const WIDTH: usize = 1024;
/// 524 MB of f32.
const DATA: u64 = (ROWS * WIDTH * 4) as u64;

/// `y = ReduceMean(x, axis 1)`: a model whose cost is reading its input.
fn mean_model() -> Vec<u8> {
    let mut mean = node("ReduceMean", &["x"], &["y"]);
    mean.attribute.push(pb::AttributeProto {
        name: "axes".into(),
        ints: vec![1],
        r#type: 7,
        ..Default::default()
    });
    // ReduceMean takes `axes` as an attribute up to opset 17.
    model(pb::GraphProto {
        name: "mean".into(),
        node: vec![mean],
        input: vec![value_info("x", F32, &[D::Sym("N"), D::N(1024)])],
        output: vec![value_info("y", F32, &[D::Sym("N"), D::N(1)])],
        ..Default::default()
    })
}

fn header() -> Vec<u8> {
    npy("<f4", &[ROWS, WIDTH], &[])
}

fn crc_of_header_and_zeros(header: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(header);
    let zeros = vec![0u8; 1 << 20];
    let mut left = DATA;
    while left > 0 {
        let n = left.min(zeros.len() as u64);
        h.update(&zeros[..usize::try_from(n).unwrap()]);
        left -= n;
    }
    h.finalize()
}

/// A stored (`np.savez`) bundle written by hand with the data as a sparse hole.
fn write_stored(path: &std::path::Path) {
    let header = header();
    let crc = crc_of_header_and_zeros(&header);
    let size = u32::try_from(header.len() as u64 + DATA).unwrap();
    let name = b"x.npy";
    let mut f = std::fs::File::create(path).unwrap();
    let mut local = Vec::new();
    local.extend(0x0403_4b50u32.to_le_bytes());
    local.extend(20u16.to_le_bytes()); // version needed
    local.extend(0u16.to_le_bytes()); // flags
    local.extend(0u16.to_le_bytes()); // stored
    local.extend(0u16.to_le_bytes()); // time
    local.extend(0x21u16.to_le_bytes()); // date 1980-01-01
    local.extend(crc.to_le_bytes());
    local.extend(size.to_le_bytes());
    local.extend(size.to_le_bytes());
    local.extend(u16::try_from(name.len()).unwrap().to_le_bytes());
    local.extend(0u16.to_le_bytes());
    local.extend(name);
    f.write_all(&local).unwrap();
    f.write_all(&header).unwrap();
    let cd_offset = local.len() as u64 + header.len() as u64 + DATA;
    f.seek(SeekFrom::Start(cd_offset)).unwrap();
    let mut cd = Vec::new();
    cd.extend(0x0201_4b50u32.to_le_bytes());
    cd.extend(20u16.to_le_bytes()); // made by
    cd.extend(20u16.to_le_bytes()); // needed
    cd.extend(0u16.to_le_bytes());
    cd.extend(0u16.to_le_bytes());
    cd.extend(0u16.to_le_bytes());
    cd.extend(0x21u16.to_le_bytes());
    cd.extend(crc.to_le_bytes());
    cd.extend(size.to_le_bytes());
    cd.extend(size.to_le_bytes());
    cd.extend(u16::try_from(name.len()).unwrap().to_le_bytes());
    cd.extend([0u8; 12]); // extra, comment, disk, internal attrs, external attrs
    cd.extend(0u32.to_le_bytes()); // local header offset
    cd.extend(name);
    let mut eocd = Vec::new();
    eocd.extend(0x0605_4b50u32.to_le_bytes());
    eocd.extend([0u8; 4]);
    eocd.extend(1u16.to_le_bytes());
    eocd.extend(1u16.to_le_bytes());
    eocd.extend(u32::try_from(cd.len()).unwrap().to_le_bytes());
    eocd.extend(u32::try_from(cd_offset).unwrap().to_le_bytes());
    eocd.extend(0u16.to_le_bytes());
    f.write_all(&cd).unwrap();
    f.write_all(&eocd).unwrap();
}

/// A deflated (`np.savez_compressed`) bundle: 524 MB of zeros compress to well under 1 MB.
fn write_deflated(path: &std::path::Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    zip.start_file("x.npy", options).unwrap();
    zip.write_all(&header()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    let mut left = DATA;
    while left > 0 {
        let n = left.min(zeros.len() as u64);
        zip.write_all(&zeros[..usize::try_from(n).unwrap()]).unwrap();
        left -= n;
    }
    zip.finish().unwrap();
}

/// Peak resident set size of this process, from /proc.
fn peak_rss_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

fn validate_big(repo: &Repo) -> ValidationReport {
    let s = spec(
        r#"{"dataset": "big.npz",
            "input": {"name": "x", "shape": ["N", 1024], "dtype": "f32"},
            "batchSize": 256}"#,
    );
    let limits = Limits {
        max_run: Duration::from_mins(10),
        latency_budget: Duration::from_millis(1),
        ..Limits::default()
    };
    validate(repo.root(), &common::model_ref("mean.onnx"), &s, None, &limits).unwrap()
}

#[test]
fn a_500_mb_npz_is_streamed_stored_and_deflated() {
    let repo = Repo::new();
    repo.write("mean.onnx", mean_model());
    for (kind, write) in
        [("stored", write_stored as fn(&std::path::Path)), ("deflated", write_deflated)]
    {
        let path = repo.root().join("big.npz");
        write(&path);
        let on_disk = std::fs::metadata(&path).unwrap().len();
        let report = validate_big(&repo);
        assert!(report.passed(), "{kind}\n{}", report.render_text());
        assert_eq!(report.metrics.as_ref().unwrap().rows, ROWS, "{kind}");
        eprintln!("{kind}: {on_disk} bytes on disk, peak RSS {:?} MB", peak_rss_mb());
        std::fs::remove_file(&path).unwrap();
    }
    // The array is 524 MB; reading it whole would take at least that.
    if let Some(peak) = peak_rss_mb() {
        assert!(peak < 200, "peak RSS {peak} MB: the dataset was not streamed");
    }
}

"""Measure the bundled models in onnxruntime, for comparison with the Rust (tract) bench.

    python models/compare_onnxruntime.py            # single-threaded, like tract
    python models/compare_onnxruntime.py --threads 0  # onnxruntime's default thread pool
    python models/compare_onnxruntime.py --convnet /tmp/convnet   # plus the synthetic conv net
                                                    # (models/make_bench_convnet.py writes it)

Uses the same inputs and the same measuring policy as `cargo bench -p coxswain-model`:
load = session creation (median of 5), then per batch size 3 warm-up calls and timed calls until
1000 calls or 1 s (at least 20); p50 is nearest-rank; rows/s = batch / mean call time.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import statistics
import time

import numpy as np
import onnxruntime as ort

HERE = pathlib.Path(__file__).resolve().parent
MODELS = ["1.0.0", "1.1.0", "candidate-bad"]
BATCHES = [1, 64]


def percentile(sorted_ms: list[float], p: float) -> float:
    rank = math.ceil(p / 100 * len(sorted_ms))
    return sorted_ms[max(rank - 1, 0)]


def load_validation() -> tuple[np.ndarray, np.ndarray]:
    data = np.loadtxt(HERE / "iris" / "validation.csv", delimiter=",", skiprows=1, dtype=np.float64)
    return data[:, :4].astype(np.float32), data[:, 4].astype(np.int64)


def options(threads: int) -> ort.SessionOptions:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = max(threads, 1) if threads else 0
    return so


def measure(
    session: ort.InferenceSession, x: np.ndarray, name: str | None = None, output: str = "probabilities"
) -> tuple[list[float], float]:
    name = name or session.get_inputs()[0].name
    wanted = [output]
    for _ in range(3):
        session.run(wanted, {name: x})
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < 1000 and not (len(samples) >= 20 and time.perf_counter() - start >= 1.0):
        t = time.perf_counter()
        session.run(wanted, {name: x})
        samples.append((time.perf_counter() - t) * 1e3)
    return sorted(samples), statistics.fmean(samples) / 1e3


def conv_table(args) -> None:
    """The conv models: the bundled digits CNN and, when given, the synthetic conv net."""
    models = [("digits 1.0.0", HERE / "digits" / "1.0.0" / "model.onnx", HERE / "digits" / "validation.npz", "pixels", "logits", [1, 64])]
    if args.convnet:
        d = pathlib.Path(args.convnet)
        models.append(("bench convnet", d / "model.onnx", d / "data.npz", "x", "probabilities", [1, 8]))
    print()
    print("| model | load ms | p50 b=1 ms | p50 b=B ms | p99 b=B ms | B | rows/s b=B |")
    print("|---|---|---|---|---|---|---|")
    for label, path, data, input_name, output, batches in models:
        blob = path.read_bytes()
        loads = []
        for _ in range(5):
            t = time.perf_counter()
            session = ort.InferenceSession(blob, options(args.threads), providers=["CPUExecutionProvider"])
            loads.append((time.perf_counter() - t) * 1e3)
        x = np.load(data)[input_name]
        stats = {}
        for batch in batches:
            rows = np.resize(x, (batch, *x.shape[1:]))
            stats[batch] = measure(session, rows, input_name, output)
        big = batches[-1]
        print(
            f"| {label} | {statistics.median(loads):.2f} | {percentile(stats[1][0], 50):.4f} | "
            f"{percentile(stats[big][0], 50):.4f} | {percentile(stats[big][0], 99):.4f} | {big} | "
            f"{big / stats[big][1]:,.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (0 = default)")
    parser.add_argument("--convnet", help="folder written by models/make_bench_convnet.py")
    args = parser.parse_args()
    x, y = load_validation()
    print(f"onnxruntime {ort.__version__}, numpy {np.__version__}, threads={args.threads or 'default'}")
    print("| model | accuracy | max abs diff vs golden | load ms | p50 b=1 ms | p50 b=64 ms | p99 b=64 ms | rows/s b=64 |")
    print("|---|---|---|---|---|---|---|---|")
    for version in MODELS:
        path = HERE / "iris" / version / "model.onnx"
        data = path.read_bytes()
        loads = []
        for _ in range(5):
            t = time.perf_counter()
            session = ort.InferenceSession(data, options(args.threads), providers=["CPUExecutionProvider"])
            loads.append((time.perf_counter() - t) * 1e3)
        name = session.get_inputs()[0].name
        (probs,) = session.run(["probabilities"], {name: x})
        golden = np.load(path.parent / "golden.npy")
        accuracy = float((probs.argmax(axis=1) == y).mean())
        diff = float(np.abs(probs - golden).max())
        stats = {}
        for batch in BATCHES:
            rows = np.resize(x, (batch, x.shape[1]))  # cycles the dataset rows, like the Rust bench
            stats[batch] = measure(session, rows)
        s1, s64 = stats[1][0], stats[64][0]
        print(
            f"| {version} | {accuracy:.4f} | {diff:.1e} | {statistics.median(loads):.2f} | "
            f"{percentile(s1, 50):.4f} | {percentile(s64, 50):.4f} | {percentile(s64, 99):.4f} | "
            f"{64 / stats[64][1]:,.0f} |"
        )
    conv_table(args)


if __name__ == "__main__":
    main()

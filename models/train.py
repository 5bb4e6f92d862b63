"""Train and export the bundled iris models used by Coxswain's model validation gate.

Run from anywhere:  python models/train.py
Writes models/iris/{1.0.0,1.1.0,candidate-bad}/{model.onnx,golden.npy} and models/iris/validation.csv,
then prints accuracy and sha256 of every file (copy the table into models/README.md).

Everything is seeded and the train/validation split is fixed, so with the pinned requirements the
output bytes are identical from run to run.
"""

from __future__ import annotations

import hashlib
import pathlib

import numpy as np
import onnx
import onnxruntime as ort
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

SEED = 42
# Opsets tract-onnx 0.23 understands; skl2onnx would otherwise target the newest onnx release.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
LABEL = "species"
# The input name the validation spec declares (design.md §7); skl2onnx's default would be "X".
INPUT = "float_input"

HERE = pathlib.Path(__file__).resolve().parent
IRIS = HERE / "iris"


def split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x.astype(np.float32), y.astype(np.int64), test_size=0.3, random_state=SEED, stratify=y
    )
    return x_train, x_val, y_train, y_val


def export(model, x_sample: np.ndarray, name: str) -> bytes:
    onx = to_onnx(
        model,
        initial_types=[(INPUT, FloatTensorType([None, x_sample.shape[1]]))],
        options={id(model): {"zipmap": False}},
        target_opset=TARGET_OPSET,
        naming=name,
    )
    # skl2onnx collects opsets in a set: sort them so the bytes do not depend on PYTHONHASHSEED.
    # Some converters also list the default domain twice; keep one entry per domain.
    opsets = sorted({o.domain: o.version for o in onx.opset_import}.items())
    del onx.opset_import[:]
    for domain, version in opsets:
        onx.opset_import.add(domain=domain, version=version)
    onx.producer_name = "coxswain-models-train.py"
    onx.doc_string = f"iris {name}; see models/README.md"
    onnx.checker.check_model(onx)
    return onx.SerializeToString()


def write_model(folder: pathlib.Path, data: bytes, x_val: np.ndarray, y_val: np.ndarray) -> float:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(data)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    outputs = {o.name: i for i, o in enumerate(session.get_outputs())}
    result = session.run(None, {session.get_inputs()[0].name: x_val})
    probabilities = np.asarray(result[outputs["probabilities"]], dtype=np.float32)
    assert probabilities.shape == (len(x_val), 3), probabilities.shape
    # np.save with a fixed dtype/shape is byte-stable (header + little-endian f32 data).
    np.save(folder / "golden.npy", probabilities, allow_pickle=False)
    return float((probabilities.argmax(axis=1) == y_val).mean())


def write_csv(path: pathlib.Path, x_val: np.ndarray, y_val: np.ndarray) -> None:
    lines = [",".join(FEATURES + [LABEL])]
    for row, label in zip(x_val, y_val):
        # One decimal is exact for iris (checked in main), so the CSV reproduces the golden inputs.
        lines.append(",".join(f"{float(v):.1f}" for v in row) + f",{int(label)}")
    path.write_text("\n".join(lines) + "\n")


def sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    x_train, x_val, y_train, y_val = split()
    # Iris measurements have one decimal: check the CSV text is exact before relying on it.
    assert np.array_equal(np.round(x_val, 1).astype(np.float32), x_val)

    baseline = LogisticRegression(max_iter=1000, random_state=SEED).fit(x_train, y_train)

    # Adam with mild L2 generalises better than lbfgs here (lbfgs overfits the 105 training rows).
    better = MLPClassifier(
        hidden_layer_sizes=(16,), solver="adam", alpha=0.01, max_iter=2000, random_state=SEED
    ).fit(x_train, y_train)

    # Deliberately weak: sees only the sepal measurements (petal columns zeroed during training, so
    # their learned weights stay at zero) and only 12 training rows. Same 4-float input contract.
    x_bad = x_train.copy()
    x_bad[:, 2:] = 0.0
    rng = np.random.default_rng(SEED)
    few = np.concatenate([rng.choice(np.flatnonzero(y_train == c), 4, replace=False) for c in range(3)])
    bad = LogisticRegression(max_iter=1000, C=0.05, random_state=SEED).fit(x_bad[few], y_train[few])

    IRIS.mkdir(parents=True, exist_ok=True)
    write_csv(IRIS / "validation.csv", x_val, y_val)
    rows = []
    for version, model in (("1.0.0", baseline), ("1.1.0", better), ("candidate-bad", bad)):
        folder = IRIS / version
        onnx_name = "iris_" + version.replace(".", "_").replace("-", "_")
        accuracy = write_model(folder, export(model, x_train, onnx_name), x_val, y_val)
        rows.append((version, type(model).__name__, accuracy, folder))

    print(f"validation rows: {len(y_val)}  (train rows: {len(y_train)}, seed {SEED})")
    print("| file | model | validation accuracy | sha256 |")
    print("|---|---|---|---|")
    for version, kind, accuracy, folder in rows:
        for name in ("model.onnx", "golden.npy"):
            path = folder / name
            print(f"| `{path.relative_to(HERE.parent)}` | {kind} | {accuracy:.4f} | `{sha256(path)}` |")
    csv = IRIS / "validation.csv"
    print(f"| `{csv.relative_to(HERE.parent)}` | dataset | - | `{sha256(csv)}` |")


if __name__ == "__main__":
    main()

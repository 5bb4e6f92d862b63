"""Train and export the bundled digits CNN (an image model with NCHW input) for the model gate.

Run from anywhere:  python models/train_digits.py
Writes models/digits/1.0.0/{model.onnx,golden.npz} and models/digits/validation.npz, then prints
the accuracy and the sha256 of every file (copy them into models/README.md).

No deep-learning framework: the 8x8 digit images ship inside scikit-learn, the network is trained
with plain numpy (hand-written forward and backward passes, Adam), and the ONNX graph is written
with the `onnx` package's helper API. Everything is seeded and the split fixed, so with the pinned
requirements the output bytes are identical from run to run.

The network: pixels f32 [N, 1, 8, 8] (values / 16)
  -> Conv 3x3 (8 filters, pad 1) -> Relu -> MaxPool 2x2 -> Conv 3x3 (16 filters, pad 1) -> Relu
  -> Flatten -> Gemm (256 -> 10) = logits f32 [N, 10] -> Softmax = probabilities f32 [N, 10]
"""

from __future__ import annotations

import hashlib
import pathlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 7
HERE = pathlib.Path(__file__).resolve().parent
DIGITS = HERE / "digits"
EPOCHS = 30
BATCH = 32


def split():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    return train_test_split(x, y.astype(np.int64), test_size=400, random_state=SEED, stratify=y)


def im2col(x: np.ndarray) -> np.ndarray:
    """[N, C, H, W] -> [N, H, W, C*9] patches of a 3x3 convolution with padding 1."""
    n, c, h, w = x.shape
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.empty((n, h, w, c, 3, 3), dtype=x.dtype)
    for i in range(3):
        for j in range(3):
            cols[:, :, :, :, i, j] = p[:, :, i : i + h, j : j + w].transpose(0, 2, 3, 1)
    return cols.reshape(n, h, w, c * 9)


def col2im(dcols: np.ndarray, shape) -> np.ndarray:
    n, c, h, w = shape
    dcols = dcols.reshape(n, h, w, c, 3, 3)
    dp = np.zeros((n, c, h + 2, w + 2), dtype=dcols.dtype)
    for i in range(3):
        for j in range(3):
            dp[:, :, i : i + h, j : j + w] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dp[:, :, 1:-1, 1:-1]


def conv(x, w, b):
    cols = im2col(x)
    out = cols @ w.reshape(w.shape[0], -1).T + b  # [N, H, W, F]
    return out.transpose(0, 3, 1, 2), cols


def conv_back(dout, cols, x_shape, w):
    d = dout.transpose(0, 2, 3, 1)  # [N, H, W, F]
    dw = np.einsum("nhwf,nhwk->fk", d, cols).reshape(w.shape)
    db = d.sum(axis=(0, 1, 2))
    dx = col2im(d @ w.reshape(w.shape[0], -1), x_shape)
    return dx, dw, db


def forward(params, x):
    w1, b1, w2, b2, w3, b3 = params
    c1, cols1 = conv(x, w1, b1)
    r1 = np.maximum(c1, 0)
    n, f, h, w = r1.shape
    blocks = r1.reshape(n, f, h // 2, 2, w // 2, 2)
    p1 = blocks.max(axis=(3, 5))
    c2, cols2 = conv(p1, w2, b2)
    r2 = np.maximum(c2, 0)
    flat = r2.reshape(n, -1)
    logits = flat @ w3.T + b3
    return logits, (x, c1, cols1, r1, blocks, p1, c2, cols2, r2, flat)


def backward(params, cache, dlogits):
    w1, b1, w2, b2, w3, b3 = params
    x, c1, cols1, r1, blocks, p1, c2, cols2, r2, flat = cache
    dw3 = dlogits.T @ flat
    db3 = dlogits.sum(axis=0)
    dr2 = (dlogits @ w3).reshape(r2.shape) * (c2 > 0)
    dp1, dw2, db2 = conv_back(dr2, cols2, p1.shape, w2)
    mask = blocks == p1[:, :, :, None, :, None]
    dr1 = (mask * dp1[:, :, :, None, :, None]).reshape(r1.shape) * (c1 > 0)
    _, dw1, db1 = conv_back(dr1, cols1, x.shape, w1)
    return [dw1, db1, dw2, db2, dw3, db3]


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def train(x, y):
    rng = np.random.default_rng(SEED)
    he = lambda *shape, fan: (rng.standard_normal(shape) * np.sqrt(2.0 / fan)).astype(np.float32)
    params = [
        he(8, 1, 3, 3, fan=9), np.zeros(8, np.float32),
        he(16, 8, 3, 3, fan=72), np.zeros(16, np.float32),
        he(10, 256, fan=256), np.zeros(10, np.float32),
    ]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    lr, b1, b2, eps, t = 2e-3, 0.9, 0.999, 1e-8, 0
    for _ in range(EPOCHS):
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            idx = order[start : start + BATCH]
            logits, cache = forward(params, x[idx])
            d = softmax(logits)
            d[np.arange(len(idx)), y[idx]] -= 1
            grads = backward(params, cache, d / len(idx))
            t += 1
            for i, g in enumerate(grads):
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                mh, vh = m[i] / (1 - b1**t), v[i] / (1 - b2**t)
                params[i] = (params[i] - lr * mh / (np.sqrt(vh) + eps)).astype(np.float32)
    return params


def export(params) -> bytes:
    w1, b1, w2, b2, w3, b3 = params
    inits = [
        numpy_helper.from_array(a.astype(np.float32), name)
        for a, name in [(w1, "conv1.w"), (b1, "conv1.b"), (w2, "conv2.w"), (b2, "conv2.b"), (w3, "fc.w"), (b3, "fc.b")]
    ]
    nodes = [
        helper.make_node("Conv", ["pixels", "conv1.w", "conv1.b"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "conv2.w", "conv2.b"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Flatten", ["r2"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "digits_cnn",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="coxswain-models-train_digits.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def savez(path: pathlib.Path, **arrays) -> None:
    # np.savez_compressed stamps entries with the current time; write through zipfile with a fixed
    # date so the bytes are reproducible (deflated entries, as savez_compressed writes them).
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, buf.getvalue())


def main() -> None:
    x_train, x_val, y_train, y_val = split()
    params = train(x_train, y_train)
    data = export(params)
    folder = DIGITS / "1.0.0"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(data)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    logits, probabilities = session.run(["logits", "probabilities"], {"pixels": x_val})
    savez(DIGITS / "validation.npz", pixels=x_val, label=y_val)
    savez(folder / "golden.npz", logits=logits, probabilities=probabilities)
    accuracy = float((logits.argmax(axis=1) == y_val).mean())
    print(f"validation accuracy {accuracy:.4f} ({int(round(accuracy * len(y_val)))}/{len(y_val)})")
    for path in [folder / "model.onnx", folder / "golden.npz", DIGITS / "validation.npz"]:
        print(f"| `{path.relative_to(HERE.parent)}` | `{hashlib.sha256(path.read_bytes()).hexdigest()}` |")


if __name__ == "__main__":
    main()

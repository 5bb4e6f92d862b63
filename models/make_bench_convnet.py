"""Write a synthetic conv net shaped like a text-line classifier, for the speed comparison only.

    python models/make_bench_convnet.py /tmp/convnet     # writes model.onnx and data.npz there

Not a bundled model (its weights are random and it is never committed): it stands in for the
OCR models of issue 16 — NCHW input `x: f32 [N, 3, 48, W]` with a symbolic width, strided 3x3
convolutions, a depthwise block, 1x1 convolutions, global pooling and a 2-way softmax — so that
`cargo bench -p coxswain-model --bench validate` and `python models/compare_onnxruntime.py` can
time a conv workload of realistic size on both runtimes. data.npz holds 64 random images
(W = 192) and the onnxruntime outputs as golden `probabilities`.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROWS, WIDTH = 64, 192


def main() -> None:
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/convnet")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(16)
    inits, nodes = [], []

    def conv(x, cin, cout, k, stride, group=1, relu=True):
        name = f"conv{len(nodes)}"
        fan = cin // group * k * k
        w = (rng.standard_normal((cout, cin // group, k, k)) * np.sqrt(2.0 / fan)).astype(np.float32)
        b = (rng.standard_normal(cout) * 0.01).astype(np.float32)
        inits.extend([numpy_helper.from_array(w, f"{name}.w"), numpy_helper.from_array(b, f"{name}.b")])
        pad = k // 2
        nodes.append(
            helper.make_node(
                "Conv", [x, f"{name}.w", f"{name}.b"], [name], kernel_shape=[k, k],
                strides=[stride, stride], pads=[pad] * 4, group=group,
            )
        )
        if not relu:
            return name
        nodes.append(helper.make_node("Relu", [name], [f"{name}.r"]))
        return f"{name}.r"

    x = conv("x", 3, 16, 3, 2)
    x = conv(x, 16, 32, 3, 1)
    x = conv(x, 32, 32, 3, 2, group=32)
    x = conv(x, 32, 64, 1, 1)
    x = conv(x, 64, 64, 3, 2, group=64)
    x = conv(x, 64, 128, 1, 1)
    x = conv(x, 128, 128, 3, 1)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"]))
    nodes.append(helper.make_node("Flatten", ["pooled"], ["flat"], axis=1))
    w = (rng.standard_normal((2, 128)) * 0.1).astype(np.float32)
    inits.extend([numpy_helper.from_array(w, "fc.w"), numpy_helper.from_array(np.zeros(2, np.float32), "fc.b")])
    nodes.append(helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1))
    graph = helper.make_graph(
        nodes, "bench_convnet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 48, "W"])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="coxswain-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    (out / "model.onnx").write_bytes(data)
    images = rng.random((ROWS, 3, 48, WIDTH), dtype=np.float32)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(["probabilities"], {"x": images})
    np.savez(out / "data.npz", x=images, probabilities=probabilities)
    print(f"wrote {out / 'model.onnx'} ({len(data)} bytes) and {out / 'data.npz'}")


if __name__ == "__main__":
    main()

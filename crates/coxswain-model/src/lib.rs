//! Model validation with tract-onnx (placeholder: filled in by the model-validation issue).

"""inference.pdmodel/.pdiparams -> inference.onnx with paddle2onnx 1.3.1 (2.x refuses Paddle < 3.0)."""
from pathlib import Path

from basics import written_atomically
from deploy.backends.paddle_inference import model_files


def export_onnx(model_dir, opset: int = 11, output=None) -> Path:
    """Write model_dir/inference.onnx (or output) and return its path; written to a temp file, then renamed."""
    import paddle2onnx

    pdmodel, pdiparams = model_files(model_dir)
    output = Path(output) if output else Path(model_dir) / "inference.onnx"
    with written_atomically(output) as tmp:
        paddle2onnx.export(str(pdmodel), str(pdiparams), save_file=str(tmp), opset_version=opset,
                           auto_upgrade_opset=True, verbose=False, enable_onnx_checker=True)
    return output

"""SAM 2 on onnxruntime.

* ``python -m sam2.export onnx ...`` / :func:`sam2.onnx.export.export_onnx` writes the graphs
  (needs torch, onnx and onnxscript);
* :func:`build_sam2_video_predictor_onnx` / :func:`build_sam2_image_predictor_onnx` run them
  with the predictors' API (need only numpy, pillow, av and onnxruntime).
"""

from sam2.onnx.automatic_mask_generator import SAM2AutomaticMaskGeneratorONNX
from sam2.onnx.image_predictor import SAM2ImagePredictorONNX, build_sam2_image_predictor_onnx
from sam2.onnx.manifest import ExportFolderError
from sam2.onnx.runtime import OnnxModel, ProviderError
from sam2.onnx.video_predictor import SAM2VideoPredictorONNX, build_sam2_video_predictor_onnx

__all__ = [
    "ExportFolderError",
    "OnnxModel",
    "ProviderError",
    "SAM2AutomaticMaskGeneratorONNX",
    "SAM2ImagePredictorONNX",
    "SAM2VideoPredictorONNX",
    "build_sam2_image_predictor_onnx",
    "build_sam2_video_predictor_onnx",
]

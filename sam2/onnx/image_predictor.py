"""Still-image segmentation on onnxruntime: the :class:`sam2.sam2_image_predictor.SAM2ImagePredictor`
API served by an export folder's image encoder and decoder graphs, without torch.

Preprocessing and postprocessing follow the torch predictor: the image is resized to S x S
(antialiased bilinear, aspect ratio not kept) and normalised; prompts are scaled to S; masks
are the low-res logits upsampled (bilinear) to the image size.
"""

from typing import List, Optional, Sequence, Tuple

import numpy as np

from sam2.onnx import resize
from sam2.onnx.heads import DecoderOutput, decoder_masks
from sam2.onnx.runtime import OnnxModel
from sam2.utils.prompts import check_box, check_mask_input, check_points


def _as_rgb_array(image) -> np.ndarray:
    """HWC uint8 RGB numpy array or PIL image -> HWC array."""
    if not isinstance(image, np.ndarray):
        if hasattr(image, "convert"):
            image = np.asarray(image.convert("RGB"))
        else:
            raise TypeError(f"image must be an HWC numpy array or a PIL image, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) RGB, got shape {image.shape}")
    return image


class SAM2ImagePredictorONNX:
    """Embed an image once with :meth:`set_image`, then :meth:`predict` masks from prompts.

    Build from an export folder with :func:`build_sam2_image_predictor_onnx` (or pass an
    :class:`OnnxModel`). Returns NumPy arrays exactly like the torch predictor.
    """

    def __init__(self, model: OnnxModel, mask_threshold: float = 0.0):
        self.model = model
        self.mask_threshold = mask_threshold
        self.image_size = model.image_size
        self.reset_predictor()

    def reset_predictor(self) -> None:
        self._is_image_set = False
        self._is_batch = False
        self._features: List[dict] = []
        self._orig_hw: List[Tuple[int, int]] = []

    # ------------------------------------------------------------------ images
    def _preprocess(self, image: np.ndarray) -> np.ndarray:
        x = np.transpose(image, (2, 0, 1)).astype(np.float32) / np.float32(255.0)
        x = resize.bilinear_antialias(x, (self.image_size, self.image_size))
        return self.model.normalize_float(x)

    def _embed(self, image: np.ndarray) -> dict:
        _, embed, high_0, high_1 = self.model.run("image_encoder", image=self._preprocess(image))
        return {"image_embed": embed, "high_res": (high_0, high_1)}

    def set_image(self, image) -> None:
        """Embed one image: HWC uint8 RGB numpy array or PIL image."""
        self.reset_predictor()
        arr = _as_rgb_array(image)
        self._features = [self._embed(arr)]
        self._orig_hw = [arr.shape[:2]]
        self._is_image_set = True

    def set_image_batch(self, image_list: Sequence) -> None:
        """Embed several images (sizes may differ) for :meth:`predict_batch`."""
        self.reset_predictor()
        if not isinstance(image_list, (list, tuple)) or not image_list:
            raise ValueError("set_image_batch needs a non-empty list of images")
        arrays = [_as_rgb_array(im) for im in image_list]
        self._features = [self._embed(a) for a in arrays]
        self._orig_hw = [a.shape[:2] for a in arrays]
        self._is_image_set = True
        self._is_batch = True

    def get_image_embedding(self) -> np.ndarray:
        """(B, C, S/16, S/16) features of the image(s) set (with the no-memory embedding added)."""
        self._require_image("get_image_embedding")
        return np.concatenate([f["image_embed"] for f in self._features], axis=0)

    def _require_image(self, what: str) -> None:
        if not self._is_image_set:
            raise RuntimeError(f"call set_image(...) (or set_image_batch) before {what}()")

    # ------------------------------------------------------------------ prompts
    def _prompts(self, point_coords, point_labels, box, normalize_coords, orig_hw):
        """-> (coords (B, P, 2) in model pixels, labels (B, P)): box corners, clicks, one padding point."""
        h, w = orig_hw

        def scale(xy: np.ndarray) -> np.ndarray:
            # float32 like the torch predictor: x / W * S
            xy = xy.astype(np.float32)
            if normalize_coords:
                xy = xy / np.array([w, h], dtype=np.float32)
            return xy * np.float32(self.image_size)

        coords = labels = None
        if point_coords is not None:
            pts, lab = check_points(point_coords, point_labels)
            coords, labels = scale(pts), lab
            if coords.ndim == 2:
                coords, labels = coords[None], labels[None]
        elif point_labels is not None:
            raise ValueError("point_labels given without point_coords")
        if box is not None:
            corners = scale(check_box(box).reshape(-1, 2, 2))
            corner_labels = np.tile(np.array([[2, 3]]), (corners.shape[0], 1))
            if coords is not None:
                if coords.shape[0] not in (1, corners.shape[0]):
                    raise ValueError(f"{coords.shape[0]} point sets do not match {corners.shape[0]} boxes")
                if coords.shape[0] != corners.shape[0]:
                    coords = np.repeat(coords, corners.shape[0], axis=0)
                    labels = np.repeat(labels, corners.shape[0], axis=0)
                coords = np.concatenate([corners, coords], axis=1)
                labels = np.concatenate([corner_labels, labels], axis=1)
            else:
                coords, labels = corners, corner_labels
        if coords is not None:
            # Box corners travel as points, so the prompt encoder always adds its padding point.
            coords = np.concatenate([coords, np.zeros((coords.shape[0], 1, 2), np.float32)], axis=1)
            labels = np.concatenate([labels, -np.ones((labels.shape[0], 1), dtype=np.int64)], axis=1)
        else:
            coords, labels = np.zeros((1, 0, 2)), np.zeros((1, 0), dtype=np.int64)
        return coords.astype(np.float32), labels.astype(np.int64)

    def _decode(self, features: dict, coords, labels, mask_input, multimask_output):
        batch = coords.shape[0]
        side = 4 * features["image_embed"].shape[-1]
        has_mask = mask_input is not None
        if has_mask:
            mask = check_mask_input(mask_input, side).astype(np.float32)
            if mask.shape[0] not in (1, batch):
                raise ValueError(f"{mask.shape[0]} mask inputs for {batch} prompt sets")
            mask = np.broadcast_to(mask, (batch, 1, side, side))
        else:
            mask = np.zeros((batch, 1, side, side), dtype=np.float32)

        def rep(x):
            return np.broadcast_to(x, (batch, *x.shape[1:]))

        out = DecoderOutput(
            *self.model.run(
                "decoder",
                image_embed=rep(features["image_embed"]),
                high_res_0=rep(features["high_res"][0]),
                high_res_1=rep(features["high_res"][1]),
                point_coords=coords,
                point_labels=labels,
                mask_input=mask,
                has_mask_input=np.array([1.0 if has_mask else 0.0], dtype=np.float32),
                ptr_presence=np.ones((batch, 1), dtype=np.float32),
            )
        )
        return decoder_masks(out, multimask_output, self.model.settings)

    def _predict_one(
        self,
        idx,
        point_coords,
        point_labels,
        box,
        mask_input,
        multimask_output,
        return_logits,
        normalize_coords,
    ):
        orig_hw = self._orig_hw[idx]
        coords, labels = self._prompts(point_coords, point_labels, box, normalize_coords, orig_hw)
        low_res, ious = self._decode(self._features[idx], coords, labels, mask_input, multimask_output)
        masks = resize.bilinear(low_res, orig_hw)
        if not return_logits:
            masks = (masks > self.mask_threshold).astype(np.float32)
        low_res = np.clip(low_res, -32.0, 32.0)
        if masks.shape[0] == 1:
            return masks[0], ious[0], low_res[0]
        return masks, ious, low_res

    def predict(
        self,
        point_coords: Optional[np.ndarray] = None,
        point_labels: Optional[np.ndarray] = None,
        box: Optional[np.ndarray] = None,
        mask_input: Optional[np.ndarray] = None,
        multimask_output: bool = True,
        return_logits: bool = False,
        normalize_coords: bool = True,
    ):
        """Masks for one prompt set (or one per box); see ``SAM2ImagePredictor.predict``."""
        self._require_image("predict")
        if self._is_batch and len(self._orig_hw) > 1:
            raise RuntimeError("several images are set (set_image_batch): use predict_batch()")
        return self._predict_one(
            0, point_coords, point_labels, box, mask_input, multimask_output, return_logits, normalize_coords
        )

    def predict_batch(
        self,
        point_coords_batch=None,
        point_labels_batch=None,
        box_batch=None,
        mask_input_batch=None,
        multimask_output: bool = True,
        return_logits: bool = False,
        normalize_coords: bool = True,
    ):
        """:meth:`predict` for each image of :meth:`set_image_batch`; returns three lists."""
        self._require_image("predict_batch")
        if not self._is_batch:
            raise RuntimeError("predict_batch() needs images set with set_image_batch(...)")
        n = len(self._orig_hw)
        for name, values in (
            ("point_coords_batch", point_coords_batch),
            ("point_labels_batch", point_labels_batch),
            ("box_batch", box_batch),
            ("mask_input_batch", mask_input_batch),
        ):
            if values is not None and len(values) != n:
                raise ValueError(f"{name} has {len(values)} entries for {n} images")

        def pick(values, i):
            return None if values is None else values[i]

        results = [
            self._predict_one(
                i,
                pick(point_coords_batch, i),
                pick(point_labels_batch, i),
                pick(box_batch, i),
                pick(mask_input_batch, i),
                multimask_output,
                return_logits,
                normalize_coords,
            )
            for i in range(n)
        ]
        return [r[0] for r in results], [r[1] for r in results], [r[2] for r in results]


def build_sam2_image_predictor_onnx(
    folder: str, providers=None, threads: int = 0, config=None, **kwargs
) -> SAM2ImagePredictorONNX:
    """Image predictor from an export folder (``python -m sam2.export onnx ... --out folder``)."""
    return SAM2ImagePredictorONNX(
        OnnxModel(folder, providers=providers, threads=threads, config=config), **kwargs
    )

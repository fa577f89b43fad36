"""Interactive segmentation of still images: embed once, then prompt repeatedly."""

from typing import List, Optional, Tuple

import numpy as np

try:
    import torch
except ImportError:
    from sam2._torch_check import torch_missing

    raise torch_missing("sam2.sam2_image_predictor") from None

from sam2.modeling.sam2_base import SAM2Base
from sam2.precision import compute_context, set_precision
from sam2.utils.prompts import check_box, check_mask_input, check_points
from sam2.utils.transforms import ImageLike, SAM2Transforms, to_list_of_images


class SAM2ImagePredictor:
    """Compute an image's features once with :meth:`set_image`, then :meth:`predict` masks.

    Prompts are given in the image's pixel coordinates (or in [0, 1] with
    ``normalize_coords=False``). Masks come back at the image's size.
    """

    def __init__(self, sam_model: SAM2Base, mask_threshold: float = 0.0, precision: Optional[str] = None,
                 **kwargs) -> None:
        """``precision``: None keeps the model's (set by the builder); "auto" | "fp32" | "bf16" |
        "int8" sets it on the model (see :mod:`sam2.precision`)."""
        self.model = sam_model
        if precision is not None:
            set_precision(sam_model, precision)
        self.mask_threshold = mask_threshold
        self._transforms = SAM2Transforms(resolution=sam_model.image_size, mask_threshold=mask_threshold)
        side = sam_model.image_size
        # Backbone feature sizes of the three levels the decoder reads (strides 4, 8, 16).
        self._bb_feat_sizes = [(side // 4, side // 4), (side // 8, side // 8), (side // 16, side // 16)]
        self.reset_predictor()

    @classmethod
    def from_pretrained(cls, model_id: str, **kwargs) -> "SAM2ImagePredictor":
        """Predictor for an official model id such as ``facebook/sam2.1-hiera-tiny``."""
        from sam2.build_sam import build_sam2_hf

        return cls(build_sam2_hf(model_id, **kwargs), **kwargs)

    @property
    def device(self) -> torch.device:
        return self.model.device

    def reset_predictor(self) -> None:
        self._is_image_set = False
        self._is_batch = False
        self._features = None
        self._orig_hw: Optional[List[Tuple[int, int]]] = None

    # ------------------------------------------------------------------ images
    @torch.no_grad()
    def _embed(self, batch: torch.Tensor) -> None:
        with compute_context(self.model):
            backbone_out = self.model.forward_image(batch.to(self.device))
        _, vision_feats, _, _ = self.model._prepare_backbone_features(backbone_out)
        if self.model.directly_add_no_mem_embed:
            # A single image is a first frame with no memory.
            vision_feats[-1] = vision_feats[-1] + self.model.no_mem_embed
        n = batch.shape[0]
        feats = [f.permute(1, 2, 0).view(n, -1, *size) for f, size in zip(vision_feats, self._bb_feat_sizes)]
        self._features = {"image_embed": feats[-1], "high_res_feats": feats[:-1]}
        self._is_image_set = True

    def set_image(self, image: ImageLike) -> None:
        """Embed one image: HWC uint8 RGB numpy array or PIL image."""
        self.reset_predictor()
        tensor = self._transforms(image)
        if hasattr(image, "size") and not isinstance(image, np.ndarray):
            w, h = image.size
        else:
            h, w = image.shape[:2]
        self._embed(tensor[None])
        self._orig_hw = [(h, w)]

    def set_image_batch(self, image_list: List[np.ndarray]) -> None:
        """Embed several images (sizes may differ) for :meth:`predict_batch`."""
        self.reset_predictor()
        images = to_list_of_images(image_list)
        batch = self._transforms.forward_batch(images)
        self._embed(batch)
        self._orig_hw = [tuple(np.asarray(img).shape[:2]) if isinstance(img, np.ndarray) else img.size[::-1]
                         for img in images]
        self._is_batch = True

    def get_image_embedding(self) -> torch.Tensor:
        """(B, C, S/16, S/16) features of the image(s) set (with the no-memory embedding added)."""
        self._require_image("get_image_embedding")
        return self._features["image_embed"]

    def _require_image(self, what: str) -> None:
        if not self._is_image_set:
            raise RuntimeError(f"call set_image(...) (or set_image_batch) before {what}()")

    # ------------------------------------------------------------------ prompts
    def _prep_prompts(self, point_coords, point_labels, box, mask_logits, normalize_coords, img_idx=-1):
        """numpy prompts -> tensors in model-input coordinates."""
        orig_hw = self._orig_hw[img_idx]
        coords = labels = boxes = mask_input = None
        if point_coords is not None:
            pts, lab = check_points(point_coords, point_labels)
            pts_t = torch.as_tensor(pts, dtype=torch.float32, device=self.device)
            coords = self._transforms.transform_coords(pts_t, normalize_coords, orig_hw)
            labels = torch.as_tensor(lab, dtype=torch.int32, device=self.device)
            if coords.dim() == 2:
                coords, labels = coords[None], labels[None]
        elif point_labels is not None:
            raise ValueError("point_labels given without point_coords")
        if box is not None:
            box_t = torch.as_tensor(check_box(box), dtype=torch.float32, device=self.device)
            boxes = self._transforms.transform_boxes(box_t, normalize_coords, orig_hw)
        if mask_logits is not None:
            side = self.model.sam_prompt_encoder.mask_input_size[0]
            mask_input = torch.as_tensor(check_mask_input(mask_logits, side), dtype=torch.float32, device=self.device)
        if coords is not None and boxes is not None and coords.shape[0] not in (1, boxes.shape[0]):
            raise ValueError(f"{coords.shape[0]} point sets do not match {boxes.shape[0]} boxes")
        return mask_input, coords, labels, boxes

    @torch.no_grad()
    def _predict(self, point_coords, point_labels, boxes=None, mask_input=None, multimask_output=True,
                 return_logits=False, img_idx=-1):
        """Tensors in model-input coordinates -> (masks (B,C,H,W), ious (B,C), low-res logits)."""
        low_res_masks, ious = self._decode(point_coords, point_labels, boxes, mask_input, multimask_output, img_idx)
        masks = self._transforms.postprocess_masks(low_res_masks, self._orig_hw[img_idx])
        low_res_masks = torch.clamp(low_res_masks, -32.0, 32.0)
        if not return_logits:
            masks = masks > self.mask_threshold
        return masks, ious, low_res_masks

    @torch.no_grad()
    def _decode(self, point_coords, point_labels, boxes=None, mask_input=None, multimask_output=True, img_idx=-1):
        """Like :meth:`_predict` but stops at the decoder: (low-res logits (B,C,S/4,S/4), ious (B,C)).

        The automatic mask generator filters candidates on their IoU before paying for the
        upsampling to full size (``self._transforms.postprocess_masks``).
        """
        points = None if point_coords is None else (point_coords, point_labels)
        if boxes is not None:
            # A box is two corner points (labels 2, 3) placed before any clicks.
            corners = boxes.reshape(-1, 2, 2)
            corner_labels = torch.tensor([[2, 3]], dtype=torch.int32, device=boxes.device).repeat(corners.size(0), 1)
            if points is not None:
                if points[0].shape[0] != corners.shape[0]:
                    points = (points[0].expand(corners.shape[0], -1, -1), points[1].expand(corners.shape[0], -1))
                points = (torch.cat([corners, points[0]], dim=1), torch.cat([corner_labels, points[1]], dim=1))
            else:
                points = (corners, corner_labels)
        several_prompts = points is not None and points[0].shape[0] > 1
        high_res = [level[img_idx].unsqueeze(0) for level in self._features["high_res_feats"]]
        with compute_context(self.model):
            sparse, dense = self.model.sam_prompt_encoder(points=points, boxes=None, masks=mask_input)
            low_res_masks, ious, _, _ = self.model.sam_mask_decoder(
                image_embeddings=self._features["image_embed"][img_idx].unsqueeze(0),
                image_pe=self.model.sam_prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=multimask_output,
                repeat_image=several_prompts,
                high_res_features=high_res,
            )
        # float32 out whatever the compute precision (no-ops in fp32).
        return low_res_masks.float(), ious.float()

    @staticmethod
    def _to_numpy(masks, ious, low_res):
        def conv(t):
            return t.squeeze(0).float().detach().cpu().numpy()

        return conv(masks), conv(ious), conv(low_res)

    def predict(
        self,
        point_coords: Optional[np.ndarray] = None,
        point_labels: Optional[np.ndarray] = None,
        box: Optional[np.ndarray] = None,
        mask_input: Optional[np.ndarray] = None,
        multimask_output: bool = True,
        return_logits: bool = False,
        normalize_coords: bool = True,
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Masks for one prompt set (or one per box for B boxes).

        Returns (masks (C,H,W) float32 0/1 — or logits with return_logits —, iou_predictions (C,),
        low_res_masks (C, S/4, S/4) logits for a later ``mask_input``); with B boxes, each gains a
        leading B dimension. C = 3 with multimask_output, else 1.
        """
        self._require_image("predict")
        if self._is_batch and len(self._orig_hw) > 1:
            raise RuntimeError("several images are set (set_image_batch): use predict_batch()")
        prompts = self._prep_prompts(point_coords, point_labels, box, mask_input, normalize_coords)
        mask_t, coords, labels, boxes = prompts
        masks, ious, low = self._predict(coords, labels, boxes, mask_t, multimask_output, return_logits)
        return self._to_numpy(masks, ious, low)

    def predict_batch(
        self,
        point_coords_batch: Optional[List[np.ndarray]] = None,
        point_labels_batch: Optional[List[np.ndarray]] = None,
        box_batch: Optional[List[np.ndarray]] = None,
        mask_input_batch: Optional[List[np.ndarray]] = None,
        multimask_output: bool = True,
        return_logits: bool = False,
        normalize_coords: bool = True,
    ) -> Tuple[List[np.ndarray], List[np.ndarray], List[np.ndarray]]:
        """:meth:`predict` for each image of :meth:`set_image_batch`; returns three lists."""
        self._require_image("predict_batch")
        if not self._is_batch:
            raise RuntimeError("predict_batch() needs images set with set_image_batch(...)")
        n = len(self._orig_hw)
        for name, values in (("point_coords_batch", point_coords_batch), ("point_labels_batch", point_labels_batch),
                             ("box_batch", box_batch), ("mask_input_batch", mask_input_batch)):
            if values is not None and len(values) != n:
                raise ValueError(f"{name} has {len(values)} entries for {n} images")
        out_masks, out_ious, out_low = [], [], []
        def pick(values, i):
            return None if values is None else values[i]

        for i in range(n):
            mask_t, coords, labels, boxes = self._prep_prompts(
                pick(point_coords_batch, i), pick(point_labels_batch, i), pick(box_batch, i),
                pick(mask_input_batch, i), normalize_coords, img_idx=i,
            )
            masks, ious, low = self._predict(coords, labels, boxes, mask_t, multimask_output, return_logits,
                                             img_idx=i)
            m, s, lo = self._to_numpy(masks, ious, low)
            out_masks.append(m)
            out_ious.append(s)
            out_low.append(lo)
        return out_masks, out_ious, out_low

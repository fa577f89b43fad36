"""Prompt encoder: turns clicks, boxes and mask prompts into decoder inputs.

Sparse prompts (points, box corners) become one token each: a random-Fourier position
encoding of the location plus a learned embedding for its kind. Point labels:

    -1  padding (not a point: the position is ignored),
     0  negative click, 1 positive click,
     2  top-left box corner, 3 bottom-right box corner.

A dense mask prompt (low-res logits, 4x the embedding grid) is downscaled by convolutions
to the embedding grid; without one, a learned "no mask" vector fills the grid.
"""

import torch
from torch import nn

from sam2.modeling.position_encoding import PositionEmbeddingRandom
from sam2.modeling.sam2_utils import LayerNorm2d

# Index into ``point_embeddings`` of each label that has a learned embedding.
NEGATIVE, POSITIVE, BOX_TOP_LEFT, BOX_BOTTOM_RIGHT = 0, 1, 2, 3
PADDING = -1


class PromptEncoder(nn.Module):
    def __init__(
        self,
        embed_dim: int,
        image_embedding_size: tuple[int, int],
        input_image_size: tuple[int, int],
        mask_in_chans: int,
        activation: type[nn.Module] = nn.GELU,
    ) -> None:
        """
        embed_dim: width of the prompt tokens (= mask decoder width).
        image_embedding_size: (H, W) of the image embedding grid.
        input_image_size: (H, W) of the model input in pixels; point coordinates use it.
        mask_in_chans: hidden channels of the mask-prompt downscaler.
        activation: activation class used in the mask downscaler.
        """
        super().__init__()
        self.embed_dim = embed_dim
        self.input_image_size = input_image_size
        self.image_embedding_size = image_embedding_size
        self.pe_layer = PositionEmbeddingRandom(embed_dim // 2)

        self.num_point_embeddings: int = 4  # negative, positive, two box corners
        self.point_embeddings = nn.ModuleList(
            nn.Embedding(1, embed_dim) for _ in range(self.num_point_embeddings)
        )
        self.not_a_point_embed = nn.Embedding(1, embed_dim)

        # Mask prompts come at 4x the embedding resolution; two stride-2 convs bring them down.
        self.mask_input_size = (4 * image_embedding_size[0], 4 * image_embedding_size[1])
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_in_chans // 4, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans // 4),
            activation(),
            nn.Conv2d(mask_in_chans // 4, mask_in_chans, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans),
            activation(),
            nn.Conv2d(mask_in_chans, embed_dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    def get_dense_pe(self) -> torch.Tensor:
        """Position encoding of every cell of the embedding grid: (1, embed_dim, H, W)."""
        return self.pe_layer(self.image_embedding_size).unsqueeze(0)

    def _embed_points(self, points: torch.Tensor, labels: torch.Tensor, pad: bool) -> torch.Tensor:
        """points (B, N, 2) in input pixels (x, y), labels (B, N) -> (B, N [+1], embed_dim)."""
        points = points + 0.5  # pixel index -> pixel centre
        if pad:
            # Without a box the decoder was trained with one extra padding token.
            pad_point = torch.zeros((points.shape[0], 1, 2), device=points.device)
            pad_label = -torch.ones((labels.shape[0], 1), device=labels.device)
            points = torch.cat([points, pad_point], dim=1)
            labels = torch.cat([labels, pad_label], dim=1)
        embedding = self.pe_layer.forward_with_coords(points, self.input_image_size)

        labels = labels.unsqueeze(-1)
        # Padding tokens carry no position, only the learned "not a point" vector.
        embedding = torch.where(
            labels == PADDING, torch.zeros_like(embedding) + self.not_a_point_embed.weight, embedding
        )
        for label in (NEGATIVE, POSITIVE, BOX_TOP_LEFT, BOX_BOTTOM_RIGHT):
            embedding = torch.where(
                labels == label, embedding + self.point_embeddings[label].weight, embedding
            )
        return embedding

    def _embed_boxes(self, boxes: torch.Tensor) -> torch.Tensor:
        """boxes (B, 4) as x0, y0, x1, y1 in input pixels -> (B, 2, embed_dim)."""
        corners = (boxes + 0.5).reshape(-1, 2, 2)
        embedding = self.pe_layer.forward_with_coords(corners, self.input_image_size)
        embedding[:, 0, :] += self.point_embeddings[BOX_TOP_LEFT].weight
        embedding[:, 1, :] += self.point_embeddings[BOX_BOTTOM_RIGHT].weight
        return embedding

    def _embed_masks(self, masks: torch.Tensor) -> torch.Tensor:
        """masks (B, 1, 4H, 4W) logits -> (B, embed_dim, H, W)."""
        return self.mask_downscaling(masks)

    @staticmethod
    def _batch_size(points, boxes, masks) -> int:
        if points is not None:
            return points[0].shape[0]
        if boxes is not None:
            return boxes.shape[0]
        if masks is not None:
            return masks.shape[0]
        return 1

    def _get_device(self) -> torch.device:
        return self.point_embeddings[0].weight.device

    def _check_inputs(self, points, boxes, masks) -> None:
        if points is not None:
            coords, labels = points
            if coords.ndim != 3 or coords.shape[-1] != 2:
                raise ValueError(f"point coords must be (B, N, 2), got {tuple(coords.shape)}")
            if labels.shape != coords.shape[:2]:
                raise ValueError(
                    f"point labels must be (B, N) = {tuple(coords.shape[:2])}, got {tuple(labels.shape)}"
                )
        if boxes is not None and boxes.shape[-1] != 4 and tuple(boxes.shape[-2:]) != (2, 2):
            raise ValueError(f"boxes must be (B, 4) or (B, 2, 2), got {tuple(boxes.shape)}")
        if masks is not None and (masks.ndim != 4 or masks.shape[1] != 1):
            raise ValueError(f"mask prompts must be (B, 1, H, W), got {tuple(masks.shape)}")

    def forward(
        self,
        points: tuple[torch.Tensor, torch.Tensor] | None,
        boxes: torch.Tensor | None,
        masks: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed any combination of prompts.

        points: (coords (B, N, 2), labels (B, N)) or None; boxes: (B, 4) or None;
        masks: (B, 1, 4H, 4W) or None.
        Returns sparse (B, N_tokens, embed_dim) — points (plus a padding token when there
        is no box) then box corners — and dense (B, embed_dim, H, W).
        """
        self._check_inputs(points, boxes, masks)
        bs = self._batch_size(points, boxes, masks)
        sparse = torch.empty((bs, 0, self.embed_dim), device=self._get_device())
        if points is not None:
            coords, labels = points
            sparse = torch.cat([sparse, self._embed_points(coords, labels, pad=boxes is None)], dim=1)
        if boxes is not None:
            sparse = torch.cat([sparse, self._embed_boxes(boxes)], dim=1)

        if masks is not None:
            dense = self._embed_masks(masks)
        else:
            h, w = self.image_embedding_size
            dense = self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(bs, -1, h, w)
        return sparse, dense

"""Write src/render/__fixtures__/rle_vectors.json: masks and their COCO RLE made by pycocotools.

The frontend's own RLE code is checked against these vectors (rle.test.ts).
Run from demo/frontend:  python tools/make_rle_vectors.py   (needs numpy and pycocotools)
"""

import json
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

OUT = Path(__file__).resolve().parent.parent / "src" / "render" / "__fixtures__" / "rle_vectors.json"


def make_masks():
    """Yield (name, HxW uint8 mask) pairs covering the encoder's edge cases."""
    rng = np.random.default_rng(1234)
    yield "empty_4x5", np.zeros((4, 5), np.uint8)
    yield "full_3x7", np.ones((3, 7), np.uint8)
    yield "single_pixel_first", np.pad(np.ones((1, 1), np.uint8), ((0, 5), (0, 4)))
    yield "single_pixel_last", np.pad(np.ones((1, 1), np.uint8), ((5, 0), (4, 0)))
    yield "one_row", (rng.random((1, 33)) > 0.5).astype(np.uint8)
    yield "one_column", (rng.random((29, 1)) > 0.5).astype(np.uint8)
    yield "zero_size", np.zeros((0, 0), np.uint8)
    yy, xx = np.mgrid[:90, :160]
    yield "disk_90x160", (((yy - 40) ** 2 + (xx - 70) ** 2) < 30**2).astype(np.uint8)
    yield "two_disks_90x160", (
        (((yy - 20) ** 2 + (xx - 30) ** 2) < 15**2) | (((yy - 60) ** 2 + (xx - 120) ** 2) < 25**2)
    ).astype(np.uint8)
    yield "checker_16x16", ((yy[:16, :16] + xx[:16, :16]) % 2).astype(np.uint8)
    yield "noise_37x53", (rng.random((37, 53)) > 0.7).astype(np.uint8)
    # Long runs: deltas of several 5-bit groups, both signs.
    big = np.zeros((720, 1280), np.uint8)
    big[100:700, 50:1000] = 1
    big[:, 1200:] = 1
    big[0:3, 0:2] = 1
    yield "rects_720x1280", big


def main():
    vectors = []
    for name, m in make_masks():
        rle = mask_utils.encode(np.asfortranarray(m))
        counts = rle["counts"].decode("ascii")
        vec = {
            "name": name,
            "size": [int(v) for v in rle["size"]],
            "counts": counts,
            "area": int(mask_utils.area(rle)),
            "bbox": [int(v) for v in mask_utils.toBbox(rle)],
        }
        # Keep the pixels only for small masks; the big one is checked by area/bbox/round trip.
        if m.size <= 20000:
            vec["mask_rows"] = ["".join(str(int(v)) for v in row) for row in m]
        vectors.append(vec)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"generator": "pycocotools", "vectors": vectors}, indent=1) + "\n")
    print(f"wrote {len(vectors)} vectors to {OUT.name}")


if __name__ == "__main__":
    main()

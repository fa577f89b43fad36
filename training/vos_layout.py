"""Copy a VOS folder into the DAVIS 2017 layout (JPEGImages/480p, Annotations/480p, ImageSets/2017/val.txt)."""

import os
import shutil
from typing import Sequence


def write_davis_layout(src_root: str, dst_root: str, videos: Sequence[str]) -> None:
    for kind in ("JPEGImages", "Annotations"):
        for v in videos:
            dst = os.path.join(dst_root, kind, "480p", v)
            if not os.path.isdir(dst):
                shutil.copytree(os.path.join(src_root, kind, v), dst)
    os.makedirs(os.path.join(dst_root, "ImageSets", "2017"), exist_ok=True)
    with open(os.path.join(dst_root, "ImageSets", "2017", "val.txt"), "w") as f:
        f.write("\n".join(videos) + "\n")

"""Fixtures for the training suite: a synthetic DAVIS-style folder."""

import pytest

from training.synthetic import write_vos_folder


@pytest.fixture(scope="session")
def vos_root(tmp_path_factory):
    """Six short synthetic videos (10 frames, 96x128, 1-2 objects) in DAVIS layout."""
    root = tmp_path_factory.mktemp("vos")
    write_vos_folder(str(root), num_videos=6, num_frames=10, size=(96, 128), max_objects=2, seed=0)
    return str(root)

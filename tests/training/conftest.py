"""Fixtures for the training suite: synthetic DAVIS-style folders and a run helper."""

import os

import pytest

from training.synthetic import write_vos_folder

# Subprocesses (training runs, torchrun) get one thread each: on a busy 2-core machine
# several OpenMP threads per process spin against each other and run many times slower.
SUBPROCESS_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}

slow = pytest.mark.skipif(os.environ.get("RUN_SLOW") != "1", reason="slow; set RUN_SLOW=1 to run")


@pytest.fixture(scope="session")
def vos_root(tmp_path_factory):
    """Six short synthetic videos (10 frames, 96x128, 1-2 objects) in DAVIS layout."""
    root = tmp_path_factory.mktemp("vos")
    write_vos_folder(str(root), num_videos=6, num_frames=10, size=(96, 128), max_objects=2, seed=0)
    return str(root)

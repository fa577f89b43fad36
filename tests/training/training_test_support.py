"""Shared by the training tests (a plain module: `conftest` is a name every test folder uses)."""

import os

import pytest

# Subprocesses (training runs, torchrun) get one thread each: on a busy 2-core machine
# several OpenMP threads per process spin against each other and run many times slower.
SUBPROCESS_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}

slow = pytest.mark.skipif(os.environ.get("RUN_SLOW") != "1", reason="slow; set RUN_SLOW=1 to run")

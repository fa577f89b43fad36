"""Loading an export folder into onnxruntime sessions (no torch needed).

:class:`OnnxModel` checks the folder (:func:`sam2.onnx.manifest.read_manifest`), opens one
``InferenceSession`` per graph with the providers asked for, and runs graphs by name with
keyword inputs. It also does the preprocessing every predictor shares (normalising frames).
"""

import os
from typing import Dict, Optional, Sequence

import numpy as np

from sam2.onnx.manifest import ExportFolderError, Manifest, read_manifest


class ProviderError(RuntimeError):
    """An execution provider was asked for that this onnxruntime does not have."""


def _import_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise ImportError(
            'onnxruntime is not installed: `pip install "sam2[onnx]"` (or `pip install onnxruntime`, '
            "onnxruntime-gpu for CUDA/TensorRT, onnxruntime-directml on Windows)"
        ) from None
    return onnxruntime


def check_providers(providers: Sequence) -> list:
    """The provider list for onnxruntime, or :class:`ProviderError` naming what is missing."""
    ort = _import_onnxruntime()
    available = ort.get_available_providers()
    names = [p[0] if isinstance(p, (tuple, list)) else p for p in providers]
    missing = [n for n in names if n not in available]
    if missing:
        raise ProviderError(
            f"execution provider(s) {', '.join(missing)} not available in this onnxruntime "
            f"({ort.__version__}; available: {', '.join(available)}). Install the onnxruntime build that has "
            "them (onnxruntime-gpu for CUDA/TensorRT, onnxruntime-directml for DirectML), or pass "
            "providers=['CPUExecutionProvider']"
        )
    return list(providers)


# Graphs whose sessions use onnxruntime's CPU arena, shrunk back at the end of every run. Memory
# attention allocates the same large blocks over and over within one run (each chunk of queries'
# 117 MB attention matrix, four layers): from the arena they are reused instead of mapped and
# zero-filled afresh by malloc each time, and shrinking returns them between runs. Tiny's first
# pass, per frame: memory attention 2.01 -> 1.49 s (1 object), 5.95 -> 4.43 s (3 objects); peak
# resident memory 1535 -> 1652 MB and 1723 -> 1674 MB. The image encoder allocates each size once
# per run: the arena there saved 0.1 s a frame for 380 MB more at the peak, so it stays out.
ARENA_GRAPHS = ("memory_attention",)


def _session_options(ort, arena: bool, spinning: bool, threads: int):
    options = ort.SessionOptions()
    # The arena keeps every block it ever grew to, per shape the dynamic axes take: tracking
    # tiny (2 objects, 8 frames) peaked at 3.8 GB resident with it, 2.3 GB without, unless it
    # is shrunk after each run (ARENA_GRAPHS).
    options.enable_cpu_mem_arena = arena
    if not spinning:
        # Idle intra-op threads sleep instead of busy-waiting for the next op: on a shared or
        # small CPU the spinning threads take cores from the ones doing work (tiny's memory
        # attention, 2 threads on a loaded 2-core machine: 7.9 -> 6.4 s CPU per call).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return options


class OnnxModel:
    """The graphs of one export folder, ready to run.

    ``providers``: onnxruntime execution providers in order of preference (CPU by default);
    ``threads``: intra-op threads per session (0: onnxruntime's default); ``config``: when given,
    the config the folder must have been exported from (name or YAML file name), so a folder of
    another model is refused instead of silently used; ``cpu_mem_arena``: onnxruntime's CPU memory
    arena kept for every graph (off by default: it holds on to peak memory; :data:`ARENA_GRAPHS`
    use it either way, shrunk after each run); ``spinning``: let idle intra-op threads busy-wait
    (off by default).
    """

    def __init__(
        self,
        folder: str,
        providers: Optional[Sequence] = None,
        threads: int = 0,
        verify_hashes: bool = True,
        config: Optional[str] = None,
        cpu_mem_arena: bool = False,
        spinning: bool = False,
    ):
        ort = _import_onnxruntime()
        self.folder = os.fspath(folder)
        self.manifest: Manifest = read_manifest(self.folder, verify_hashes=verify_hashes)
        if config is not None and os.path.basename(config) != os.path.basename(self.manifest.config):
            raise ExportFolderError(
                f"{self.folder!r} holds an export of {self.manifest.config}, not of {config}; export {config} "
                "with `python -m sam2.export onnx --config ... --checkpoint ... --out <dir>` or pass that folder"
            )
        self.providers = check_providers(providers or ["CPUExecutionProvider"])
        options = _session_options(ort, cpu_mem_arena, spinning, threads)
        arena_options = _session_options(ort, True, spinning, threads)
        shrink_arena = ort.RunOptions()
        shrink_arena.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self._run_options: Dict[str, object] = {}  # graph -> its RunOptions (None: defaults)
        self.sessions: Dict[str, object] = {}
        for name, info in self.manifest.graphs.items():
            path = os.path.join(self.folder, info.file)
            shrunk = name in ARENA_GRAPHS and not cpu_mem_arena
            if shrunk:
                self._run_options[name] = shrink_arena
            try:
                self.sessions[name] = ort.InferenceSession(
                    path, sess_options=arena_options if shrunk else options, providers=self.providers
                )
            except Exception as e:  # onnxruntime raises its own exception types
                raise ExportFolderError(
                    f"onnxruntime could not load {path!r}: {type(e).__name__}: {str(e).splitlines()[0]}; "
                    "export the folder again with this sam2 version"
                ) from None
        settings = self.manifest.model
        self.image_size = int(settings["image_size"])
        self.settings = settings
        self.limits = self.manifest.limits
        mean = np.asarray(self.manifest.normalization["mean"], dtype=np.float32)
        std = np.asarray(self.manifest.normalization["std"], dtype=np.float32)
        # uint8 -> model input, per channel, with the reference's arithmetic (float64 /255, then float32).
        levels = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)
        self._table = ((levels[None, :] - mean[:, None]) / std[:, None]).astype(np.float32)  # (3, 256)
        self.mean, self.std = mean, std

    def has(self, graph: str) -> bool:
        return graph in self.sessions

    def run(self, graph: str, **inputs) -> list:
        """Run a graph; inputs by name (arrays are made contiguous), outputs in the manifest's order."""
        session = self.sessions[graph]
        feeds = {k: np.ascontiguousarray(v) for k, v in inputs.items()}
        return session.run(None, feeds, self._run_options.get(graph))

    def normalize_uint8(self, frame: np.ndarray) -> np.ndarray:
        """(S, S, 3) uint8 RGB -> (1, 3, S, S) float32 model input."""
        chw = np.transpose(frame, (2, 0, 1))
        return np.stack([self._table[c][chw[c]] for c in range(3)])[None]

    def normalize_float(self, image01: np.ndarray) -> np.ndarray:
        """(3, S, S) float32 in [0, 1] -> (1, 3, S, S) float32 model input."""
        return ((image01 - self.mean[:, None, None]) / self.std[:, None, None]).astype(np.float32)[None]

    def check_limit(self, name: str, value: int) -> None:
        limit = self.limits.get(name)
        if limit is not None and value > limit:
            raise ValueError(f"{value} exceeds the export's {name} of {limit} (see manifest.json)")

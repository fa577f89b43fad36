"""Server settings, read once from the environment into a typed, frozen object.

Every knob of the server lives here; the rest of the code receives a `Settings` and never
reads `os.environ` itself. A malformed value stops start-up with a message naming the variable.

Environment variables (defaults in brackets):

- `DATA_PATH` [demo/data]: holds `gallery/*.mp4`, `posters/`, `uploads/`
- `FRONTEND_DIST` [demo/frontend/dist]: built frontend served at `/` when present
- `API_URL` [""]: prefix of the `url`/`posterUrl` fields; empty gives same-origin paths
- `DEFAULT_VIDEO` [first gallery video]: file name of the gallery video `defaultVideo` returns
- `MODEL_SIZE` [tiny on CPU, base_plus on CUDA]: tiny | small | base_plus | large
- `CHECKPOINT_DIR` [checkpoints]: where `sam2.1_hiera_<size>.pt` files live
- `SAM2_DEMO_CONFIG` [per MODEL_SIZE]: any model config (tests use the micro config)
- `SAM2_DEMO_RANDOM_WEIGHTS` [0]: 1 runs on seeded random weights when no checkpoint is used
- `SAM2_DEMO_SEED` [0]: seed of those random weights
- `SAM2_DEMO_DEVICE` [auto]: auto | cpu | cuda | cuda:N
- `SAM2_DEMO_RUNTIME` [torch]: torch | onnxruntime. onnxruntime serves the tracker from the
  exported graphs in `SAM2_DEMO_ONNX_DIR` (`make onnx`; see docs/onnx.md) on the CPU; the
  model size, config and precision are the export's. Segment everything needs torch.
- `SAM2_DEMO_ONNX_DIR` [onnx/sam2.1_hiera_<MODEL_SIZE>]: the export folder for onnxruntime
- `SAM2_DEMO_PRECISION` [auto]: auto | fp32 | bf16 | int8, the model's compute precision (see
  sam2/precision.py); auto is bf16 on a GPU or a CPU with native bf16 (AVX-512 BF16, AMX, Arm
  BF16), else fp32. `serverInfo.precision` and the page header say what it resolved to
- `MODEL_CONCURRENCY` [2]: model calls that may run at once (clicks go first; see compute_gate.py)
- `TORCH_THREADS` [cores / MODEL_CONCURRENCY]: CPU threads of each model call
- `FEATURE_CACHE_MB` [512]: per session, image features kept so re-tracking skips the encoder
  (about 17 MB a frame for the 1024 px models; MAX_SESSIONS x this is the bound)
- `DECODED_CACHE_MB` [256]: per session, decoded pictures of the video file kept so clicks around
  one group of pictures decode it once (1.4 MB a 1280x720 picture; MAX_SESSIONS x this is the bound)
- `MAX_UPLOAD_MB` [200], `MAX_DURATION_SEC` [10], `MAX_SESSIONS` [8], `SESSION_TTL_SEC` [1800],
  `MAX_OBJECTS` [16], `MAX_FPS` [30], `MAX_LONG_SIDE` [1280], `MAX_INPUT_SIDE` [8192],
  `MAX_PROPAGATIONS` [4], `SESSION_LOCK_TIMEOUT_SEC` [30], `MAX_EXPORTS` [2], `MAX_TRANSCODES` [2],
  `MAX_JSON_BODY_KB` [4096]
- `EXPORT_THREADS` [2], `EXPORT_NICE` [10]: threads that encode the masks of all exports being
  built, and how much their nice value is raised above the server's (see export_builds.py)
- `UPLOAD_TTL_HOURS` [72], `UPLOADS_MAX_MB` [2048], `SHARE_UPLOADS` [0]: uploads expire, their disk
  use is bounded, and each browser (X-Client-Id, else its cookie id) lists only its own unless shared
- `CLIENT_HEADER_TIMEOUT_SEC` [10], `CLIENT_BODY_TIMEOUT_SEC` [20], `CLIENT_MIN_UPLOAD_KBPS` [32],
  `CLIENT_WRITE_TIMEOUT_SEC` [20]: slow or stalled clients are cut off (see worker.py)
- `DATABASE_URL` [sqlite under DATA_PATH/work.sqlite3]: where users' work is kept (sessions,
  prompts, masks, share links), e.g. `postgresql+psycopg://user:pass@host/db`; several workers
  share one PostgreSQL database
- `WORKER_NAME` [host name and process id]: sent in the `X-Served-By` response header
- `LOAD_AGENT_PORT` [off]: a port where HAProxy's agent check reads how much room for new
  sessions this worker has (see load_agent.py), bound on `HOST` like the server
- `IDENTITY_KEY` [generated, kept in DATA_PATH/.identity_key]: signs the browser-id cookie given
  to clients that send no X-Client-Id (see identity.py)
- `CORS_ORIGINS` [same origin only]: comma-separated origins allowed to call the API from another
  origin (`*`: any); a state-changing request from any other origin is refused. Listed origins
  may send credentials (cookies); `*` may not
- `ALLOWED_HOSTS` [localhost, 127.0.0.1, [::1], the bound `HOST` (with the machine's names and
  addresses when it is 0.0.0.0 or ::), the hosts of `API_URL` and `CORS_ORIGINS`]: comma-separated
  host names a request's `Host` header may carry (`.example.org` also allows its subdomains;
  `*`: any); others get 400 (DNS rebinding). Listed names are added to the defaults
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

MODEL_SIZES = ("tiny", "small", "base_plus", "large")
RUNTIMES = ("torch", "onnxruntime")
PRECISIONS = ("auto", "fp32", "bf16", "int8")  # as sam2.precision.PRECISIONS (not imported: torch)

# Official config and checkpoint names per model size (SAM 2.1).
CONFIG_BY_SIZE = {
    "tiny": "configs/sam2.1/sam2.1_hiera_t.yaml",
    "small": "configs/sam2.1/sam2.1_hiera_s.yaml",
    "base_plus": "configs/sam2.1/sam2.1_hiera_b+.yaml",
    "large": "configs/sam2.1/sam2.1_hiera_l.yaml",
}
CHECKPOINT_BY_SIZE = {size: f"sam2.1_hiera_{size}.pt" for size in MODEL_SIZES}

_DEMO_DIR = Path(__file__).resolve().parent.parent
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class SettingsError(ValueError):
    """An environment variable holds a value the server cannot use."""


@dataclass(frozen=True)
class Limits:
    """Resource limits; each one, when hit, answers with a clear error."""

    max_upload_bytes: int = 200 * 1024 * 1024
    max_duration_sec: float = 10.0
    max_sessions: int = 8
    session_ttl_sec: float = 1800.0
    max_objects: int = 16
    max_fps: int = 30
    max_long_side: int = 1280  # transcoded uploads are scaled down to this
    max_input_side: int = 8192  # larger probed sizes are refused before any decoding
    max_propagations: int = 4  # concurrent streams; keeps gunicorn threads free for clicks
    session_lock_timeout_sec: float = 30.0
    max_points: int = 64  # points in one addPoints call
    max_exports: int = 2  # exports (COCO or zip) built at once; more are answered "busy"
    export_threads: int = 2  # threads that encode exports' masks, all builds together
    export_nice: int = 10  # added to those threads' nice value: clicks get the cores first
    max_transcodes: int = 2  # uploads transcoded at once; more are answered "busy"
    max_json_body_bytes: int = 4096 * 1024  # a GraphQL/JSON request body (uploads excepted)
    upload_ttl_sec: float = 72 * 3600.0  # uploads unused for this long are deleted
    uploads_max_bytes: int = 2048 * 1024 * 1024  # disk quota of all uploads together
    share_uploads: bool = False  # True: every upload is listed to everyone

    @property
    def max_upload_mb(self) -> float:
        return round(self.max_upload_bytes / (1024 * 1024), 3)


@dataclass(frozen=True)
class LiveLimits:
    """Live cameras (demo/backend/live.py): each limit, when hit, answers with a clear error."""

    max_cameras: int = 4  # live sessions at once; each holds a request thread while it runs
    max_fps: float = 30.0  # frames a camera may send per second; faster ones are dropped unseen
    max_side: int = 1280  # a camera frame's longer side, in pixels
    max_frame_bytes: int = 1024 * 1024  # one encoded (JPEG/PNG/WebP) frame
    max_seconds: float = 600.0  # a live session ends after this
    keep_frames: int = 30  # newest tracked frames a prompt may name (memory: see sam2/video/live.py)
    max_record_seconds: float = 60.0  # the longest recording of live tracking (then it is saved)

    @classmethod
    def from_reader(cls, reader: _EnvReader) -> LiveLimits:
        return cls(
            max_cameras=reader.integer("LIVE_MAX_CAMERAS", 4, minimum=0),
            max_fps=reader.number("LIVE_MAX_FPS", 30, minimum=0.1),
            max_side=reader.integer("LIVE_MAX_SIDE", 1280, minimum=16),
            max_frame_bytes=round(reader.number("LIVE_MAX_FRAME_KB", 1024, minimum=1) * 1024),
            max_seconds=reader.number("LIVE_MAX_SECONDS", 600, minimum=1),
            keep_frames=reader.integer("LIVE_KEEP_FRAMES", 30, minimum=1),
            max_record_seconds=reader.number("LIVE_MAX_RECORD_SECONDS", 60, minimum=1),
        )


@dataclass(frozen=True)
class ClientTimeouts:
    """How long the transport waits on a client (read by the gunicorn worker, see worker.py).

    The request head must arrive within `header_sec`; a body within `body_sec` plus one second
    per `min_upload_bytes_per_sec` received; each response write may block for `write_sec`.
    """

    header_sec: float = 10.0
    body_sec: float = 20.0
    min_upload_bytes_per_sec: int = 32 * 1024
    write_sec: float = 20.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ClientTimeouts:
        reader = _EnvReader(os.environ if env is None else env)
        return cls(
            header_sec=reader.number("CLIENT_HEADER_TIMEOUT_SEC", 10, minimum=0.1),
            body_sec=reader.number("CLIENT_BODY_TIMEOUT_SEC", 20, minimum=0.1),
            min_upload_bytes_per_sec=round(reader.number("CLIENT_MIN_UPLOAD_KBPS", 32, minimum=0.001) * 1024),
            write_sec=reader.number("CLIENT_WRITE_TIMEOUT_SEC", 20, minimum=0.1),
        )


@dataclass(frozen=True)
class ModelSettings:
    size: str
    config_file: str
    checkpoint_path: Path
    random_weights: bool
    seed: int
    device: str  # "cpu", "cuda", "cuda:1", ...
    precision: str = "auto"  # auto | fp32 | bf16 | int8, resolved by the model builder
    concurrency: int = 2  # model calls at once (see compute_gate.py)
    torch_threads: int = 1  # intra-op CPU threads of each model call
    feature_cache_mb: int = 512  # per session: cached image-encoder outputs
    decoded_cache_mb: int = 256  # per session: decoded pictures of the video file
    runtime: str = "torch"  # torch | onnxruntime (the tracker on exported graphs, docs/onnx.md)
    onnx_dir: Path | None = None  # the export folder the onnxruntime runtime reads


@dataclass(frozen=True)
class Settings:
    data_path: Path
    frontend_dist: Path
    public_url: str
    default_video: str | None
    model: ModelSettings
    limits: Limits = field(default_factory=Limits)
    live: LiveLimits = field(default_factory=LiveLimits)
    cors_origins: tuple[str, ...] = ()  # empty: same origin only; ("*",): any origin
    timeouts: ClientTimeouts = field(default_factory=ClientTimeouts)
    database_url: str = ""  # empty: SQLite under data_path
    worker_name: str = ""
    host: str = "0.0.0.0"  # the address the server (and the load agent) listens on
    load_agent_port: int = 0  # 0: no agent (a single worker)
    allowed_hosts: tuple[str, ...] = LOCAL_HOSTS  # lower-case names; ("*",): any Host header
    identity_key: str = ""  # signs browser-id cookies; empty: generated and kept under data_path

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_path / 'work.sqlite3'}"

    @property
    def gallery_dir(self) -> Path:
        return self.data_path / "gallery"

    @property
    def posters_dir(self) -> Path:
        return self.data_path / "posters"

    @property
    def uploads_dir(self) -> Path:
        return self.data_path / "uploads"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        reader = _EnvReader(env)
        device = _resolve_device(reader.text("SAM2_DEMO_DEVICE", "auto"))
        default_size = "base_plus" if device.startswith("cuda") else "tiny"
        size = reader.choice("MODEL_SIZE", default_size, MODEL_SIZES)
        checkpoint_dir = Path(reader.text("CHECKPOINT_DIR", "checkpoints"))
        config_file = reader.text("SAM2_DEMO_CONFIG", CONFIG_BY_SIZE[size])
        model = ModelSettings(
            # A config of one's own is not one of the official sizes: say so (serverInfo.modelSize).
            size=size if config_file == CONFIG_BY_SIZE[size] else "custom",
            config_file=config_file,
            checkpoint_path=checkpoint_dir / CHECKPOINT_BY_SIZE[size],
            random_weights=reader.flag("SAM2_DEMO_RANDOM_WEIGHTS", False),
            seed=reader.integer("SAM2_DEMO_SEED", 0, minimum=0),
            device=device,
            precision=reader.choice("SAM2_DEMO_PRECISION", "auto", PRECISIONS),
            concurrency=(concurrency := reader.integer("MODEL_CONCURRENCY", 2, minimum=1)),
            # slots x threads = cores: more threads than cores makes OpenMP wait on itself.
            torch_threads=reader.integer("TORCH_THREADS", max(1, _cpu_count() // concurrency), minimum=1),
            feature_cache_mb=reader.integer("FEATURE_CACHE_MB", 512, minimum=0),
            decoded_cache_mb=reader.integer("DECODED_CACHE_MB", 256, minimum=0),
            runtime=reader.choice("SAM2_DEMO_RUNTIME", "torch", RUNTIMES),
            onnx_dir=Path(reader.text("SAM2_DEMO_ONNX_DIR", f"onnx/sam2.1_hiera_{size}")),
        )
        limits = Limits(
            max_upload_bytes=round(reader.number("MAX_UPLOAD_MB", 200, minimum=0.001) * 1024 * 1024),
            max_duration_sec=reader.number("MAX_DURATION_SEC", 10, minimum=0.1),
            max_sessions=reader.integer("MAX_SESSIONS", 8, minimum=1),
            session_ttl_sec=reader.number("SESSION_TTL_SEC", 1800, minimum=1),
            max_objects=reader.integer("MAX_OBJECTS", 16, minimum=1),
            max_fps=reader.integer("MAX_FPS", 30, minimum=1),
            max_long_side=reader.integer("MAX_LONG_SIDE", 1280, minimum=16),
            max_input_side=reader.integer("MAX_INPUT_SIDE", 8192, minimum=16),
            max_propagations=reader.integer("MAX_PROPAGATIONS", 4, minimum=1),
            session_lock_timeout_sec=reader.number("SESSION_LOCK_TIMEOUT_SEC", 30, minimum=0.1),
            max_exports=reader.integer("MAX_EXPORTS", 2, minimum=1),
            export_threads=reader.integer("EXPORT_THREADS", 2, minimum=1),
            export_nice=reader.integer("EXPORT_NICE", 10, minimum=0),  # the kernel caps nice at 19
            max_transcodes=reader.integer("MAX_TRANSCODES", 2, minimum=1),
            max_json_body_bytes=round(reader.number("MAX_JSON_BODY_KB", 4096, minimum=16) * 1024),
            upload_ttl_sec=reader.number("UPLOAD_TTL_HOURS", 72, minimum=0.0001) * 3600,
            uploads_max_bytes=round(reader.number("UPLOADS_MAX_MB", 2048, minimum=0.001) * 1024 * 1024),
            share_uploads=reader.flag("SHARE_UPLOADS", False),
        )
        return cls(
            data_path=Path(reader.text("DATA_PATH", str(_DEMO_DIR / "data"))).resolve(),
            frontend_dist=Path(reader.text("FRONTEND_DIST", str(_DEMO_DIR / "frontend" / "dist"))),
            public_url=reader.text("API_URL", "").rstrip("/"),
            default_video=reader.text("DEFAULT_VIDEO", "") or None,
            model=model,
            limits=limits,
            live=LiveLimits.from_reader(reader),
            cors_origins=(cors := _origins(reader.text("CORS_ORIGINS", ""))),
            timeouts=ClientTimeouts.from_env(env),
            database_url=reader.text("DATABASE_URL", ""),
            worker_name=reader.text("WORKER_NAME", "") or f"{socket.gethostname()}:{os.getpid()}",
            identity_key=reader.text("IDENTITY_KEY", ""),
            host=reader.text("HOST", "0.0.0.0"),
            load_agent_port=reader.integer("LOAD_AGENT_PORT", 0, minimum=0),
            allowed_hosts=_allowed_hosts(
                reader.text("ALLOWED_HOSTS", ""), reader.text("HOST", "0.0.0.0"), reader.text("API_URL", ""), cors
            ),
        )


def _origins(raw: str) -> tuple[str, ...]:
    """CORS_ORIGINS -> allowed origins; fails closed: a value that names none is an error."""
    if not raw:
        return ()
    if raw == "*":
        return ("*",)
    origins = tuple(o.strip().rstrip("/") for o in raw.split(","))
    for origin in origins:
        if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", origin):
            raise SettingsError(
                f"CORS_ORIGINS={raw!r}: expected '*' or a comma-separated list of origins like "
                f"https://example.org or http://localhost:5173 (got {origin!r})"
            )
    return origins


def _allowed_hosts(raw: str, bound: str, public_url: str, cors: tuple[str, ...]) -> tuple[str, ...]:
    """ALLOWED_HOSTS plus the names this server is reached by -> lower-case host names (no ports)."""
    listed = [h.strip().lower() for h in raw.split(",") if h.strip()]
    if "*" in listed:
        return ("*",)
    for host in listed:
        if not re.fullmatch(r"\.?[a-z0-9.\-]+|\[[0-9a-f:.]+\]", host):
            raise SettingsError(
                f"ALLOWED_HOSTS={raw!r}: expected '*' or comma-separated host names without ports, like "
                f"example.org, .example.org (with subdomains), 10.0.0.5 or [::1] (got {host!r})"
            )
    hosts = [*LOCAL_HOSTS, *listed]
    bound = bound.strip().lower()
    if bound in ("0.0.0.0", "::", "[::]", ""):
        hosts += _machine_names()  # all interfaces: the names and addresses others reach it by
    else:
        hosts.append(f"[{bound}]" if ":" in bound and not bound.startswith("[") else bound)
    for url in (public_url, *cors):
        name = urlsplit(url).hostname if url and url != "*" else None
        if name:
            hosts.append(f"[{name}]" if ":" in name else name)
    return tuple(dict.fromkeys(hosts))


def _machine_names() -> list[str]:
    names = [socket.gethostname().lower(), socket.getfqdn().lower()]
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        infos = []
    for info in infos:
        address = str(info[4][0]).split("%")[0].lower()
        names.append(f"[{address}]" if ":" in address else address)
    return [n for n in names if n]


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use (containers, taskset)
    except AttributeError:
        return os.cpu_count() or 1


def _resolve_device(requested: str) -> str:
    requested = requested.strip().lower()
    if requested == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if (
        requested == "cpu"
        or requested == "cuda"
        or (requested.startswith("cuda:") and requested[5:].isdigit())
    ):
        return requested
    raise SettingsError(f"SAM2_DEMO_DEVICE={requested!r}: expected auto, cpu, cuda or cuda:N")


class _EnvReader:
    """Parses one variable at a time and names it in every error."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env

    def text(self, name: str, default: str) -> str:
        value = self.env.get(name)
        return default if value is None or value.strip() == "" else value.strip()

    def flag(self, name: str, default: bool) -> bool:
        value = self.text(name, "1" if default else "0").lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name}={value!r}: expected 1/0, true/false, yes/no or on/off")

    def number(self, name: str, default: float, minimum: float) -> float:
        raw = self.text(name, str(default))
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r}: expected a number") from None
        if not value >= minimum or value == float("inf"):
            raise SettingsError(f"{name}={raw!r}: expected a finite number >= {minimum}")
        return value

    def integer(self, name: str, default: int, minimum: int) -> int:
        raw = self.text(name, str(default))
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r}: expected a whole number") from None
        if value < minimum:
            raise SettingsError(f"{name}={raw!r}: expected a whole number >= {minimum}")
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default).lower()
        if value not in choices:
            raise SettingsError(f"{name}={value!r}: expected one of {', '.join(choices)}")
        return value

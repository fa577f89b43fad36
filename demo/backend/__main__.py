"""`python -m demo.backend`: run the demo server under gunicorn with the repository's settings.

Extra arguments are passed to gunicorn (e.g. `--bind 127.0.0.1:8000`). Settings and the
checkpoint are checked first, so a mistake ends with one clear line instead of a traceback.
"""

import os
import sys
from pathlib import Path

from .inference import ModelUnavailable, check_checkpoint
from .settings import Settings, SettingsError


def main() -> None:
    try:
        check_checkpoint(Settings.from_env().model)
    except (SettingsError, ModelUnavailable) as exc:
        sys.exit(f"error: {exc}")
    config = Path(__file__).with_name("gunicorn.conf.py")
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(config),
        *sys.argv[1:],
        "demo.backend.app:create_app()",
    ]
    os.execv(sys.executable, args)


if __name__ == "__main__":
    main()

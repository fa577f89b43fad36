"""`python -m demo.backend`: run the demo server under gunicorn with the repository's settings.

Extra arguments are passed to gunicorn (e.g. `--bind 127.0.0.1:8000`).
"""

import os
import sys
from pathlib import Path


def main() -> None:
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

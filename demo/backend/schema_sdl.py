"""The API's contract as a file: the live GraphQL schema printed as SDL into `demo/schema.graphql`.

`python -m demo.backend.schema_sdl` (or `make schema`) writes the file; `--check` only compares
and exits 1 when it is stale. Tests validate every client's operations against the committed
file and fail when it differs from the schema the server builds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SDL_PATH = Path(__file__).resolve().parents[1] / "schema.graphql"
HEADER = (
    "# The demo server's GraphQL schema: generated from demo/backend/schema.py by `make schema`\n"
    "# (python -m demo.backend.schema_sdl). Do not edit; tests check it against the live schema.\n\n"
)


def schema_sdl() -> str:
    """The SDL text the committed file must hold (header, schema, one trailing newline)."""
    from .schema import schema  # imported here: building the schema loads the whole backend

    return HEADER + schema.as_str().rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale, write nothing")
    args = parser.parse_args(argv)
    text = schema_sdl()
    current = SDL_PATH.read_text() if SDL_PATH.exists() else None
    if args.check:
        if current != text:
            print(f"{SDL_PATH.name} is stale: run `make schema`", file=sys.stderr)
            return 1
        return 0
    if current != text:
        SDL_PATH.write_text(text)
        print(f"wrote {SDL_PATH}")
    else:
        print(f"{SDL_PATH} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""No acknowledged prompt lost on SIGKILL, many times over (the test runs it twice per database).

    python tools/durability.py --runs 20                    # SQLite under a temporary DATA_PATH
    python tools/durability.py --runs 20 --postgresql       # a throwaway PostgreSQL server

Each run: a server on random micro weights, 200 prompts sent one after another as fast as it
answers, SIGKILL at a random moment (0.5-4 s in), a new server on the same data, then every
acknowledged prompt is looked for in the stored work. Prints each run and the total lost.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from demo.testing.local_server import LocalServer  # noqa: E402
from tests.backend.test_work_storage import run_prompts_until_killed  # noqa: E402

CLIP = REPO.parent / "shared" / "data" / "uploads" / "quicktime_h264_640x360.mov"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--postgresql", action="store_true")
    args = parser.parse_args()
    lost_total = 0
    postgres = None
    if args.postgresql:
        from demo.testing.postgres import LocalPostgres

        postgres = LocalPostgres()
    try:
        for seed in range(1, args.runs + 1):
            with tempfile.TemporaryDirectory() as tmp:
                data = Path(tmp)
                (data / "gallery").mkdir()
                (data / "gallery" / "clip.mp4").write_bytes(CLIP.read_bytes())
                env = {"DATABASE_URL": postgres.create_database()} if postgres else {}

                def start(name: str, data=data, env=env) -> LocalServer:
                    return LocalServer(data, data / f"{name}.log", **env)

                acknowledged, found = run_prompts_until_killed(start, seed)
                lost_total += acknowledged - found
                print(f"run {seed:2d}: {acknowledged:3d} acknowledged, {found:3d} found after SIGKILL", flush=True)
    finally:
        if postgres is not None:
            postgres.stop()
    print(f"lost: {lost_total}")


if __name__ == "__main__":
    main()

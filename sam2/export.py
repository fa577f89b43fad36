"""Command line exports: ``python -m sam2.export onnx --config <name or yaml> --checkpoint <pt> --out <dir>``."""

import sys


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "onnx":
        print(
            "usage: python -m sam2.export onnx --config <name or yaml> [--checkpoint <pt>] --out <dir>",
            file=sys.stderr,
        )
        return 2
    from sam2.onnx.export import main as export_main

    return export_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())

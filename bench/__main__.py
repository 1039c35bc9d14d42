"""``python -m bench``: every benchmark in one run, on one private stack."""

from __future__ import annotations

import sys

from bench import resumable, stream, upload
from bench.harness import bench_stack


def main() -> int:
    with bench_stack() as bench:
        for module in (upload, resumable, stream):
            print("\n".join(module.run(bench)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench [upload] [resumable] [stream] [transform] [media]``: the benchmarks named
(all by default) in one run; the stack parts on one private stack, media on local files only."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench import media, resumable, stream, transform, upload
from bench.harness import bench_stack

STACK_PARTS = {"upload": upload, "resumable": resumable, "stream": stream,
               "transform": transform}


def main(argv: list[str]) -> int:
    parts = argv or [*STACK_PARTS, "media"]
    unknown = set(parts) - {*STACK_PARTS, "media"}
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    on_stack = [STACK_PARTS[name] for name in parts if name in STACK_PARTS]
    if on_stack:
        with bench_stack() as bench:
            for module in on_stack:
                print("\n".join(module.run(bench)), flush=True)
    if "media" in parts:
        with tempfile.TemporaryDirectory(prefix="bench-media-") as work:
            print("\n".join(media.run(Path(work))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

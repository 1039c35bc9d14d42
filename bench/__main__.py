"""``python -m bench [upload] [resumable] [stream] [transform] [scale] [media]``: the
benchmarks named (all by default) in one run; those on a stack share one private stack, media
uses local files only. scale (a million rows) takes several minutes.
``python -m bench soak [--clients N] [--seconds D]``: the soak (``bench.soak``)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench import media, resumable, scale, stream, transform, upload
from bench.harness import bench_stack

STACK_PARTS = {"upload": upload, "resumable": resumable, "stream": stream,
               "transform": transform, "scale": scale}


def main(argv: list[str]) -> int:
    if argv[:1] == ["soak"]:  # its own stack and options (bench.soak)
        from bench import soak
        return soak.main(argv[1:])
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

"""Video transformations through the queue (``python -m bench transform``): a 30-second 720p
H.264 clip uploaded, then ``POST /transform`` to WebM and to MP4 at a lower bit rate, timed
from the request to ``completed`` as the client sees it (queue, claim, download, job, upload
of the output, commit), beside the same FFmpeg command run by hand: target <= 1.03.

``BENCH_CLIP_SECONDS`` shortens the clip (a quick check of the path, not a figure).
"""

from __future__ import annotations

import functools
import os
import statistics
import time

import httpx

from bench.harness import Bench, row, timed
from bench.media import LIMITS, _run
from shared.media import probe, video
from tests import media_samples as samples

RUNS = 3
CASES: tuple[tuple[str, str, dict[str, object], video.Encoding], ...] = (
    ("-> WebM (VP9/Opus, 2000k)", "video_format_conversion",
     {"format": "webm", "bitrate": "2000k"}, video.Encoding("webm", bitrate=2_000_000)),
    ("-> MP4 at 1000k (H.264/AAC)", "video_bitrate_adjustment", {"bitrate": "1000k"},
     video.Encoding("mp4", bitrate=1_000_000)),
)


def _through_the_queue(client: httpx.Client, source_id: str, kind: str,
                       parameters: dict[str, object], run: int
                       ) -> tuple[float, int, dict[str, int]]:
    """(seconds from the request to completed, the worker's processing_time_ms, where the
    worker's time went)."""
    started = time.perf_counter()
    response = client.post("/api/v1/storage/transform", json={
        "source_file_id": source_id, "transformation_type": kind, "parameters": parameters,
        "output_name": f"bench-{run}"})
    response.raise_for_status()
    transform_id = response.json()["transformation"]["id"]
    while True:
        body = client.get(f"/api/v1/storage/transform/{transform_id}").json()
        status = body["transformation"]["status"]
        if status in ("completed", "failed"):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    if status != "completed":
        raise RuntimeError(f"the transformation failed: {body['transformation']}")
    return (elapsed, int(body["transformation"]["processing_time_ms"]),
            dict(body["result"].get("timings_ms", {})))


def run(bench: Bench) -> list[str]:
    seconds = float(os.environ.get("BENCH_CLIP_SECONDS", "30"))
    work = bench.data_dir / "transform"
    work.mkdir(exist_ok=True)
    source = samples.clip(work / "720p.mp4", seconds=seconds, size="1280x720", rate=30,
                          bitrate="4M")
    info = probe.probe(source, LIMITS)
    host = bench.devhost()
    lines = [f"{seconds:g}-second 720p H.264/AAC clip through the queue "
             f"(median of {RUNS}, interleaved with FFmpeg by hand):"]
    try:
        headers = {"Authorization": f"Bearer {bench.token('bench-transform', 'premium')}"}
        with httpx.Client(base_url=host.url, headers=headers, timeout=600) as client:
            uploaded = client.post("/api/v1/storage/upload", files={
                "file": ("720p.mp4", source.read_bytes(), "video/mp4")})
            uploaded.raise_for_status()
            source_id = uploaded.json()["file"]["id"]
            for label, kind, parameters, enc in CASES:
                by_hand = video.build_command(source, work / f"raw{video.EXTENSION[enc.format]}",
                                              info, enc, LIMITS)
                ours, worker, hand, read, job = [], [], [], [], []
                for number in range(RUNS):
                    wall, processing_ms, spent = _through_the_queue(client, source_id, kind,
                                                                    parameters, number)
                    ours.append(wall)
                    worker.append(processing_ms / 1000)
                    read.append(spent.get("read_source", 0) / 1000)
                    job.append(spent.get("job", 0) / 1000)
                    hand.append(timed(functools.partial(_run, by_hand)))
                q, w, h, r, j = (statistics.median(v) for v in (ours, worker, hand, read, job))
                lines += [row(f"through the queue {label}", f"{q:9.2f} s",
                              f"worker {w:.2f} s: read {r:.2f}, job {j:.2f}, "
                              f"store {w - r - j:.2f}"),
                          row("the same ffmpeg command by hand", f"{h:9.2f} s"),
                          row("ratio queue / ffmpeg", f"{q / h:14.3f}", "target <= 1.03")]
    finally:
        host.stop()
    return lines

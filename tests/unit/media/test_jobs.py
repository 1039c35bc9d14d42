"""run_job keeps jobs off the event loop, hands progress to the loop's thread, and stops
waiting for an in-process job that overruns its time."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from pathlib import Path

import pytest

from shared.auth import Role
from shared.errors import JobTimedOut
from shared.media import jobs
from shared.media.limits import MediaLimits
from shared.media.registry import validate_transformation
from shared.settings import Settings
from tests import media_samples as samples


def test_progress_reaches_the_loop_thread_while_the_loop_keeps_running(
        long_clip: Path, tmp_path: Path) -> None:
    valid = validate_transformation("video_format_conversion", {"format": "gif", "fps": 5,
                                                                "width": 80},
                                    "video/mp4", Role.ADMIN, Settings())
    seen: list[tuple[int, int]] = []
    ticks = 0

    async def main() -> dict:
        nonlocal ticks
        loop_thread = threading.get_ident()

        def on_progress(percent: int) -> None:
            seen.append((percent, threading.get_ident()))
            assert threading.get_ident() == loop_thread

        job = asyncio.create_task(jobs.run_job(valid, long_clip, tmp_path / "o.gif",
                                               MediaLimits(), on_progress))
        while not job.done():  # the loop is free while FFmpeg works
            ticks += 1
            await asyncio.sleep(0.01)
        return await job

    result = asyncio.run(main())
    assert result["mime_type"] == "image/gif"
    percents = [p for p, _ in seen]
    assert percents == sorted(set(percents)) and percents[-1] == 100
    assert ticks > 5


def test_an_overrunning_thread_is_abandoned_with_a_timeout(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           ) -> None:
    release = threading.Event()

    def stuck(*_args: object) -> dict:
        release.wait(30)  # a decoder that ignores the deadline
        return {}

    valid = validate_transformation("thumbnail_generation", {}, "image/png", Role.USER,
                                    Settings())
    valid = dataclasses.replace(valid, type=dataclasses.replace(valid.type, job=stuck))
    monkeypatch.setattr(jobs, "GRACE_SECONDS", 0.0)
    source = samples.photo(tmp_path / "p.jpg")

    async def main() -> None:
        try:
            await jobs.run_job(valid, source, tmp_path / "o.jpg", MediaLimits(job_seconds=0.2))
        finally:
            release.set()  # before the loop closes, which waits for its threads

    with pytest.raises(JobTimedOut) as caught:
        asyncio.run(main())
    assert caught.value.details["maximum"] == 0.2
    assert caught.value.details["value"] < 5  # gave up at the limit, not at the release


def test_workspace_is_private_and_removed(tmp_path: Path) -> None:
    with jobs.workspace(tmp_path / "visiobook") as directory:
        (directory / "source").write_bytes(b"x")
        assert directory.parent == tmp_path / "visiobook"
        assert directory.stat().st_mode & 0o777 == 0o700
    assert not directory.exists()

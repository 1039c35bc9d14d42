"""A real browser plays a stored MP4 through ``/stream``: headless Chromium loads a page whose
``<video>`` points at the API, plays, seeks to the middle and plays on to the end.

Two layouts of the same video: "faststart" (the index, ``moov``, before the frames), which a
browser can play from one ranged request, and the camera layout (index last), for which it
must read the end of the file first and then go back: several range requests. What the
browser asked for is seen through the DevTools protocol, what the API answered in the
devhost's access log.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from devhost.hostprocess import DevhostProcess
from tests.integration.browser import Page, chromium, page_server
from tests.integration.media import Video, make_mp4

STREAM = "/api/v1/storage/stream"

PAGE = """<!doctype html>
<meta charset="utf-8"><title>stream</title>
<video id="video" src="{src}" muted autoplay playsinline preload="auto"></video>
<script>
  // Every media event in order, for the test to read.
  const video = document.getElementById("video");
  window.mediaEvents = [];
  for (const name of ["loadedmetadata", "playing", "seeking", "seeked", "waiting", "ended",
                      "error"]) {{
    video.addEventListener(name, () => window.mediaEvents.push(name));
  }}
</script>
"""

# The <video> element's state as JSON (NaN, e.g. an unknown duration, comes back as null).
STATE = """({
  time: video.currentTime, duration: video.duration, paused: video.paused,
  ended: video.ended, readyState: video.readyState,
  error: video.error && `${video.error.code} ${video.error.message}`,
  events: window.mediaEvents,
  seekable: Array.from({length: video.seekable.length},
                       (_, i) => [video.seekable.start(i), video.seekable.end(i)]),
})"""

State = dict[str, Any]

THROUGHPUT = 200_000  # bytes per second


@pytest.mark.browser
@pytest.mark.parametrize("faststart", [True, False], ids=["faststart", "index-last"])
def test_chromium_plays_and_seeks_a_stored_mp4(
    faststart: bool, upload: Callable[..., httpx.Response], user: str, base_url: str,
    devhost: DevhostProcess, tmp_path: Path,
) -> None:
    video = make_mp4(tmp_path, faststart=faststart)
    moov, mdat = video.content.find(b"moov"), video.content.find(b"mdat")
    assert (moov < mdat) == faststart  # the two layouts really differ
    response = upload(user, video.content, filename="pattern.mp4", mime="video/mp4",
                      metadata={"is_public": True})  # <video> cannot send a bearer token
    assert response.status_code == 201, response.text
    stream_url = f"{base_url}{STREAM}/{response.json()['file']['id']}"

    with page_server(PAGE.format(src=stream_url)) as page_url, \
            chromium(tmp_path / "chromium") as browser:
        page = browser.first_page()
        try:
            page.call("Network.enable")
            # Every request reaches the API: none is answered from Chromium's own cache.
            page.call("Network.setCacheDisabled", cacheDisabled=True)
            # A network a little faster than the video (about 172 kB/s), as on a real link:
            # over loopback the whole file would arrive at once and a seek would need no new
            # request. Here the middle is not there yet when the test seeks to it.
            page.call("Network.emulateNetworkConditions", offline=False, latency=0,
                      downloadThroughput=THROUGHPUT, uploadThroughput=-1)
            page.navigate(page_url)
            play_seek_and_finish(page, video)
            requests = stream_requests(page, stream_url)
        finally:
            page.close()

    check_ranges(requests, video)
    check_devhost_answered_206(devhost, stream_url, len(requests))


def play_seek_and_finish(page: Page, video: Video) -> None:
    state = wait_for_state(page, lambda s: (s["duration"] or 0) > 0, "the metadata")
    duration = state["duration"]
    assert abs(duration - video.seconds) < 0.25, state
    # Seekable everywhere: Chromium allows that only when the server honours ranges.
    assert state["seekable"] == [[0, duration]], state

    state = wait_for_state(page, lambda s: s["time"] >= 0.5, "half a second of playback")
    assert not state["paused"], state
    time.sleep(0.4)
    later = read_state(page)
    assert later["time"] > state["time"] + 0.2, (state, later)  # the clock runs

    middle = duration / 2
    page.evaluate("video.currentTime = video.duration / 2")
    state = wait_for_state(page, lambda s: "seeked" in s["events"], "the seek")
    assert middle <= state["time"] < middle + 1.0, state
    state = wait_for_state(page, lambda s: s["time"] >= middle + 1.5,
                           "playback past the middle")
    assert not state["paused"], state
    # To the very end: the last frames' bytes arrived, and right (a broken range would stall
    # or raise a decode error on the way).
    state = wait_for_state(page, lambda s: s["ended"], "the end", timeout=duration + 10)
    assert abs(state["time"] - duration) < 0.25, state
    assert state["events"].count("seeked") == 1, state


def read_state(page: Page) -> State:
    state = page.evaluate(STATE)
    assert state["error"] is None, f"the video failed: {state}"
    return state


def wait_for_state(page: Page, condition: Callable[[State], bool], what: str,
                   timeout: float = 20.0) -> State:
    deadline = time.monotonic() + timeout
    while True:
        state = read_state(page)
        if condition(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s: {state}")
        time.sleep(0.1)


def stream_requests(page: Page, url: str) -> list[dict[str, Any]]:
    """(Range sent, status and Content-Range received) of each request for ``url`` that got
    an answer, from the DevTools Network events."""
    sent = {e["params"]["requestId"]: e["params"]["request"]["headers"]
            for e in page.events
            if e["method"] == "Network.requestWillBeSent" and e["params"]["request"]["url"] == url}
    answered = []
    for event in page.events:
        if event["method"] == "Network.responseReceived" and event["params"]["requestId"] in sent:
            response = event["params"]["response"]
            headers = {k.lower(): v for k, v in response["headers"].items()}
            request_headers = {k.lower(): v for k, v in sent[event["params"]["requestId"]].items()}
            answered.append({"range": request_headers.get("range"), "status": response["status"],
                             "content_range": headers.get("content-range")})
    return answered


def check_ranges(requests: list[dict[str, Any]], video: Video) -> None:
    """Every request was a Range request answered 206 with the matching Content-Range. The
    seek fetched the middle with a range of its own; the index-last layout also fetched its
    index, at the end of the file, with a range."""
    assert requests, "the browser made no request for the video"
    size = len(video.content)
    starts = []
    for request in requests:
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", request["range"] or "")
        assert match, request
        assert request["status"] == 206, request
        first = int(match.group(1))
        answered = re.fullmatch(rf"bytes {first}-(\d+)/{size}", request["content_range"] or "")
        assert answered, request
        starts.append(first)
    # The bitrate is constant, so the middle in time is about the middle in bytes.
    assert any(size // 4 < start < 3 * size // 4 for start in starts), requests
    if not video.faststart:
        index = video.content.find(b"moov")
        # Chromium reads in 32 KiB blocks, so its range starts a little before the index.
        assert any(index - 65536 <= start <= index for start in starts), requests


def check_devhost_answered_206(devhost: DevhostProcess, url: str, answered: int) -> None:
    """The API's own record: one access-log line per request for the video, every one a 206,
    at least as many as the browser saw answered (a request cancelled before its answer
    may be logged too)."""
    path = url.split("://", 1)[1].split("/", 1)[1]
    pattern = re.compile(rf'path="?/{re.escape(path)}"?\s.*?status"?[=:]\s*"?(\d{{3}})')
    deadline = time.monotonic() + 10
    while True:  # a line is written when its request ends, which may be a moment later
        statuses = [m.group(1) for m in map(pattern.search, devhost.log_text().splitlines())
                    if m and "devhost.access" in m.string]
        if len(statuses) >= answered or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(statuses) >= answered, statuses
    assert set(statuses) == {"206"}, statuses

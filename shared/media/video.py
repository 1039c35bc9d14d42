"""Video with the static FFmpeg of ``imageio-ffmpeg``: commands built by ``ffmpeg-python``,
run as a child process under the job's limits, progress read from ``-progress pipe:1``.

Every command reads one local file with the demuxer the probe found (``-f``, from the probe's
allow-list, so a playlist can never be opened), ``-protocol_whitelist file,pipe``, and
``-nostdin``; its output is capped with ``-fs``; the child's address space is capped and it
is killed at the job's deadline (``proc.run_limited``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import ffmpeg
import imageio_ffmpeg

from shared.errors import UnreadableMedia
from shared.media.images import fit
from shared.media.limits import Deadline, MediaLimits
from shared.media.probe import MediaInfo
from shared.media.proc import run_limited

ProgressCallback = Callable[[float], None]

MIME = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm",
        "gif": "image/gif", "png": "image/png"}
EXTENSION = {"mp4": ".mp4", "mov": ".mov", "webm": ".webm", "gif": ".gif"}
GIF_FPS, GIF_WIDTH = 10, 480
# Speed first, for the 2-vCPU instances that run the worker: x264 "veryfast" keeps most of
# "medium"'s quality at a third of its time; VP9 "good" at cpu-used 5 took five times the
# clip's length for 720p here, its "realtime" mode at cpu-used 8 with row threading less
# than its length.
_CODECS: dict[str, dict[str, Any]] = {
    "mp4": {"c:v": "libx264", "preset": "veryfast", "pix_fmt": "yuv420p",
            "movflags": "+faststart", "c:a": "aac"},
    "mov": {"c:v": "libx264", "preset": "veryfast", "pix_fmt": "yuv420p",
            "movflags": "+faststart", "c:a": "aac"},
    "webm": {"c:v": "libvpx-vp9", "deadline": "realtime", "cpu-used": 8, "row-mt": 1,
             "pix_fmt": "yuv420p", "c:a": "libopus"},
}
_GLOBAL = ["-nostdin", "-hide_banner", "-loglevel", "error", "-nostats", "-y",
           "-progress", "pipe:1", "-stats_period", "0.25"]


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    return str(imageio_ffmpeg.get_ffmpeg_exe())


@dataclass(frozen=True)
class Encoding:
    """What to write: container/codec by ``format``; size ``None`` keeps the source's."""

    format: str  # mp4, mov, webm, gif
    width: int | None = None
    height: int | None = None
    keep_ratio: bool = True
    bitrate: int | None = None  # bits per second of the video stream
    audio_bitrate: int = 128_000
    fps: int | None = None  # GIF only


def _video(info: MediaInfo) -> Any:
    if info.video is None or not info.video.width or not info.video.height:
        raise UnreadableMedia("the file has no video stream")
    return info.video


def check_source(info: MediaInfo, limits: MediaLimits) -> None:
    video = _video(info)
    limits.check_video(video.width, video.height, info.duration)


def output_size(info: MediaInfo, enc: Encoding, limits: MediaLimits) -> tuple[int, int]:
    """Even width and height (what yuv420p encoders need), within the video pixel limit."""
    video = _video(info)
    width, height = video.width, video.height
    if enc.format == "gif" and enc.width is None and enc.height is None:
        enc = Encoding("gif", width=min(GIF_WIDTH, width))
    if enc.width or enc.height:
        width, height = fit(width, height, enc.width, enc.height, enc.keep_ratio)
    width, height = max(2, width // 2 * 2), max(2, height // 2 * 2)
    limits.check_video(width, height, info.duration)
    return width, height


def _input(source: Path, info: MediaInfo, **options: Any) -> Any:
    return ffmpeg.input(str(source), f=info.demuxer, protocol_whitelist="file,pipe", **options)


def _argv(stream: Any) -> list[str]:
    exe = ffmpeg_exe()
    return [exe, *_GLOBAL, *stream.compile(cmd=exe)[1:]]


def build_command(source: Path, output: Path, info: MediaInfo, enc: Encoding,
                  limits: MediaLimits) -> list[str]:
    """The whole FFmpeg command line (the benchmark runs the same one by hand)."""
    width, height = output_size(info, enc, limits)
    source_input = _input(source, info)
    video = source_input.video
    sized = (width, height) != (_video(info).width, _video(info).height)
    limit = {"fs": limits.max_output_bytes}
    if enc.format == "gif":
        fps = enc.fps or GIF_FPS
        limits.check_frames(int((info.duration or 0) * fps) + 1)
        frames = video.filter("fps", fps).filter("scale", width, height, flags="lanczos")
        split = frames.split()
        palette = split[0].filter("palettegen", stats_mode="diff")
        gif = ffmpeg.filter([split[1], palette], "paletteuse")
        return _argv(ffmpeg.output(gif, str(output), f="gif", loop=0, **limit))
    if sized:
        video = video.filter("scale", width, height)
    options = dict(_CODECS[enc.format])
    if enc.bitrate:
        options.update({"b:v": enc.bitrate, "maxrate": enc.bitrate, "bufsize": 2 * enc.bitrate})
    streams = [video]
    if info.audio is not None:
        streams.append(source_input.audio)
        options["b:a"] = enc.audio_bitrate
    else:
        options.pop("c:a")
    return _argv(ffmpeg.output(*streams, str(output), f=_muxer(enc.format), **options, **limit))


def _muxer(fmt: str) -> str:
    return {"mp4": "mp4", "mov": "mov", "webm": "webm"}[fmt]


def _progress_reader(duration: float | None,
                     progress: ProgressCallback | None) -> Callable[[str], None]:
    """Turn ``-progress`` lines (key=value) into a percent of the probed duration."""

    def on_line(line: str) -> None:
        if progress is None or not duration:
            return
        key, _, value = line.partition("=")
        if key == "out_time_us" and value.strip().lstrip("-").isdigit():
            progress(max(0.0, min(99.0, int(value) / 1e6 / duration * 100)))
        elif key == "progress" and value.strip() == "end":
            progress(100.0)

    return on_line


def transcode(source: Path, output: Path, info: MediaInfo, enc: Encoding, limits: MediaLimits,
              deadline: Deadline, progress: ProgressCallback | None = None) -> dict[str, Any]:
    check_source(info, limits)
    argv = build_command(source, output, info, enc, limits)
    run_limited(argv, memory_bytes=limits.max_memory_bytes, deadline=deadline,
                on_line=_progress_reader(info.duration, progress), what="FFmpeg")
    written = output.stat().st_size
    limits.check_output(written)
    width, height = output_size(info, enc, limits)
    return {"mime_type": MIME[enc.format], "extension": EXTENSION[enc.format],
            "size_bytes": written, "dimensions": {"width": width, "height": height},
            "duration_seconds": round(info.duration, 3) if info.duration else None}


def frame_at(source: Path, output_png: Path, info: MediaInfo, seconds: float | None,
             box: tuple[int, int], limits: MediaLimits, deadline: Deadline) -> None:
    """One frame as PNG, at ``seconds`` (default: a tenth in, past black openings), scaled to
    fit ``box``."""
    check_source(info, limits)
    duration = info.duration or 0.0
    at = duration / 10 if seconds is None else min(seconds, max(0.0, duration - 0.1))
    frame = _input(source, info, ss=round(at, 3)).video.filter(
        "scale", box[0], box[1], force_original_aspect_ratio="decrease")
    argv = _argv(ffmpeg.output(frame, str(output_png), vframes=1, f="image2", vcodec="png",
                               fs=limits.max_output_bytes))
    run_limited(argv, memory_bytes=limits.max_memory_bytes, deadline=deadline, what="FFmpeg")
    if not output_png.exists() or output_png.stat().st_size == 0:
        raise UnreadableMedia(f"no video frame could be decoded at {at:.2f} s")


class VideoEngine(Protocol):
    def transcode(self, source: Path, output: Path, info: MediaInfo, enc: Encoding,
                  limits: MediaLimits, deadline: Deadline,
                  progress: ProgressCallback | None = None) -> dict[str, Any]: ...

    def frame_at(self, source: Path, output_png: Path, info: MediaInfo, seconds: float | None,
                 box: tuple[int, int], limits: MediaLimits, deadline: Deadline) -> None: ...


class FfmpegVideo:
    transcode = staticmethod(transcode)
    frame_at = staticmethod(frame_at)


engine: VideoEngine = FfmpegVideo()

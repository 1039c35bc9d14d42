"""Audio and video probing with PyAV, whose wheel bundles FFmpeg's libraries (the static
ffmpeg of imageio-ffmpeg ships no ffprobe).

FFmpeg's demuxers parse files from anyone, so the probe runs in the media reader's child
(``reader_child.probe``: headers only, local files only, a whitelist of demuxers, never
HLS or concat playlists); a file that crashes or hangs it fails its own job only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shared.media import reader
from shared.media.limits import Deadline, MediaLimits

# Reading headers takes milliseconds; a file that keeps the demuxer busy longer is hostile.
PROBE_SECONDS = 30.0


@dataclass(frozen=True)
class VideoStream:
    codec: str
    width: int
    height: int
    frame_rate: float | None
    bit_rate: int | None
    pixel_format: str | None


@dataclass(frozen=True)
class AudioStream:
    codec: str
    channels: int | None
    sample_rate: int | None
    bit_rate: int | None


@dataclass(frozen=True)
class MediaInfo:
    container: str  # FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    duration: float | None  # seconds
    bit_rate: int | None
    video: VideoStream | None = None
    audio: AudioStream | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def demuxer(self) -> str:
        """The name to force the same demuxer on FFmpeg's command line (``-f``)."""
        return self.container.split(",", 1)[0]


def probe(path: Path, limits: MediaLimits) -> MediaInfo:
    """What the file's headers say; ``UnreadableMedia`` when FFmpeg cannot open it."""
    deadline = Deadline(min(PROBE_SECONDS, limits.job_seconds))
    info = reader.ask("probe", path, limits=limits, deadline=deadline)["info"]
    video, audio = info["video"], info["audio"]
    return MediaInfo(container=str(info["container"]), duration=info["duration"],
                     bit_rate=info["bit_rate"],
                     video=VideoStream(**video) if video else None,
                     audio=AudioStream(**audio) if audio else None,
                     tags=dict(info["tags"]))


def media_metadata(info: MediaInfo) -> dict[str, Any]:
    """The ``metadata`` shape: ``dimensions`` for a video, and ``media`` with the rest."""
    media: dict[str, Any] = {
        "duration_seconds": round(info.duration, 3) if info.duration else None,
        "container": info.container,
        "bit_rate": info.bit_rate,
    }
    if info.video:
        media["video"] = asdict(info.video)
    if info.audio:
        media["audio"] = asdict(info.audio)
    result: dict[str, Any] = {"media": media}
    if info.video:
        result["dimensions"] = {"width": info.video.width, "height": info.video.height}
    return result

"""Audio and video probing with PyAV, whose wheel bundles FFmpeg's libraries (the static
ffmpeg of imageio-ffmpeg ships no ffprobe).

Only the headers are read (no frame is decoded), local files only (``protocol_whitelist``),
and only the demuxers in ``DEMUXERS`` (never HLS or concat playlists, which open other
files or URLs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import av

from shared.errors import UnreadableMedia

DEMUXERS = ("mov", "matroska", "avi", "mp3", "wav", "ogg", "aac", "flac", "gif")
_OPTIONS = {"protocol_whitelist": "file", "format_whitelist": ",".join(DEMUXERS)}


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


def _rate(stream: Any) -> float | None:
    rate = stream.average_rate or stream.guessed_rate
    return round(float(rate), 3) if rate else None


def probe(path: Path) -> MediaInfo:
    """What the file's headers say; ``UnreadableMedia`` when FFmpeg cannot open it."""
    try:
        with av.open(str(path), options=_OPTIONS) as container:
            video: VideoStream | None = None
            audio: AudioStream | None = None
            for stream in container.streams:
                if isinstance(stream, av.VideoStream) and video is None:
                    picture = stream.codec_context
                    video = VideoStream(
                        codec=picture.name, width=picture.width, height=picture.height,
                        frame_rate=_rate(stream), bit_rate=picture.bit_rate or None,
                        pixel_format=picture.format.name if picture.format else None)
                elif isinstance(stream, av.AudioStream) and audio is None:
                    sound = stream.codec_context
                    audio = AudioStream(
                        codec=sound.name, channels=sound.layout.nb_channels or None,
                        sample_rate=sound.sample_rate or None, bit_rate=sound.bit_rate or None)
            duration = container.duration / av.time_base if container.duration else None
            tags = {str(k)[:64]: str(v)[:256] for k, v in list(container.metadata.items())[:32]}
            return MediaInfo(container=container.format.name, duration=duration,
                             bit_rate=container.bit_rate or None, video=video, audio=audio,
                             tags=tags)
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise UnreadableMedia(f"not a readable audio or video file: {exc}") from exc


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


class Prober(Protocol):
    def __call__(self, path: Path) -> MediaInfo: ...


prober: Prober = probe

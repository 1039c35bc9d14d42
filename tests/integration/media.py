"""Test media made on the spot: a real H.264 MP4 that browsers play, from the static ffmpeg
that the ``imageio-ffmpeg`` wheel ships (no system ffmpeg, nothing fetched at run time)."""

from __future__ import annotations

import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Video:
    content: bytes
    seconds: float
    faststart: bool  # True: the index (moov) precedes the frames; False: it comes last


def ffmpeg() -> str:
    try:
        import imageio_ffmpeg
    except ImportError:
        pytest.fail("imageio-ffmpeg is missing: pip install -r requirements-dev.txt",
                    pytrace=False)
    return imageio_ffmpeg.get_ffmpeg_exe()


def make_mp4(directory: Path, *, seconds: int = 8, faststart: bool = True,
             bitrate: str = "1500k") -> Video:
    """A ``seconds`` long 320x240 test pattern, H.264 baseline, one keyframe a second.

    Keyframes every second make seeking land close to the requested time. The bitrate makes
    the file big enough (about ``seconds`` × 190 KB) that a browser reads it in several ranges,
    yet well under the session's 3 MiB upload limit. A random comment makes every file unique,
    so that two uploads never collide as duplicates.
    """
    path = directory / f"pattern-{uuid.uuid4().hex[:8]}.mp4"
    argv = [
        ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={seconds}",
        "-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
        "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate, "-g", "25",
        "-metadata", f"comment={uuid.uuid4()}",
    ]
    if faststart:
        argv += ["-movflags", "+faststart"]
    subprocess.run([*argv, str(path)], check=True, timeout=120, capture_output=True)
    return Video(path.read_bytes(), float(seconds), faststart)

"""Video types through imageio-ffmpeg's ffmpeg on a real H.264/AAC clip: probing, sizes,
formats, bit rates, progress, poster frames, and the duration, resolution, time and memory
limits (FFmpeg killed, nothing left running)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import psutil
import pytest

from shared.errors import JobTimedOut, MediaLimitExceeded, UnreadableMedia
from shared.media import probe, video
from shared.media.limits import Deadline, MediaLimits
from shared.media.metadata import extract_metadata


def probed(path: Path) -> probe.MediaInfo:
    return probe.probe(path, MediaLimits())


def test_probe_reads_the_headers(clip: Path, limits: MediaLimits) -> None:
    metadata = extract_metadata(clip, "video/mp4", limits)
    assert metadata["extraction"] == {"status": "done"}
    assert metadata["dimensions"] == {"width": 160, "height": 120}
    media = metadata["media"]
    assert media["duration_seconds"] == pytest.approx(1.0, abs=0.1)
    assert media["container"].startswith("mov,mp4")
    assert media["video"]["codec"] == "h264" and media["video"]["frame_rate"] == 15.0
    assert media["audio"]["codec"] == "aac" and media["audio"]["sample_rate"] == 44100
    assert media["audio"]["channels"] == 1
    assert media["bit_rate"] > 0 and media["video"]["bit_rate"] > 0


def test_resize(transform, clip: Path) -> None:
    result, output, progress = transform("video_resize", {"width": 80}, clip, "video/mp4")
    info = probed(output)
    assert (info.video.width, info.video.height) == (80, 60)
    assert info.video.codec == "h264" and info.audio.codec == "aac"
    assert result["dimensions"] == {"width": 80, "height": 60}
    assert result["mime_type"] == "video/mp4"
    assert progress == sorted(progress) and progress[-1] == 100


@pytest.mark.parametrize(("fmt", "codec", "container"), [
    ("webm", "vp9", "matroska,webm"), ("mov", "h264", "mov,mp4,m4a,3gp,3g2,mj2"),
    ("gif", "gif", "gif"),
])
def test_format_conversion(transform, clip: Path, fmt: str, codec: str,
                           container: str) -> None:
    result, output, _ = transform("video_format_conversion", {"format": fmt}, clip,
                                  "video/mp4")
    info = probed(output)
    assert info.container == container and info.video.codec == codec
    assert result["mime_type"] == video.MIME[fmt]
    if fmt == "webm":
        assert info.audio.codec == "opus"


def test_bitrate_adjustment_lowers_the_bit_rate(transform, long_clip: Path) -> None:
    source = probed(long_clip)
    _, output, _ = transform("video_bitrate_adjustment", {"bitrate": "100k"}, long_clip,
                             "video/mp4")
    info = probed(output)
    assert info.video.bit_rate < source.video.bit_rate / 2
    assert info.duration == pytest.approx(source.duration, abs=0.2)


def test_progress_is_a_percent_of_the_probed_duration(long_clip: Path, tmp_path: Path) -> None:
    seen: list[float] = []
    info = probed(long_clip)
    video.transcode(long_clip, tmp_path / "out.gif", info, video.Encoding("gif", width=80,
                                                                          fps=5),
                    MediaLimits(), Deadline(120), seen.append)
    assert seen[-1] == 100.0
    assert any(0 < p < 100 for p in seen)  # intermediate reports, not just the end
    assert seen == sorted(seen)


def test_video_thumbnail(transform, clip: Path) -> None:
    result, output, _ = transform("thumbnail_generation", {"width": 64, "height": 64}, clip,
                                  "video/mp4")
    assert result["dimensions"] == {"width": 64, "height": 48}
    assert output.read_bytes()[:3] == b"\xff\xd8\xff"


def test_too_long_a_video_is_refused_before_ffmpeg(transform, clip: Path) -> None:
    with pytest.raises(MediaLimitExceeded) as caught:
        transform("video_resize", {"width": 80}, clip, "video/mp4",
                  limits=MediaLimits(max_video_seconds=0.5))
    assert caught.value.details["limit"] == "video_seconds"
    # Its headers are still described: the limit bounds the work, not the description.
    metadata = extract_metadata(clip, "video/mp4", MediaLimits(max_video_seconds=0.5))
    assert metadata["extraction"]["status"] == "done"
    assert metadata["media"]["duration_seconds"] == pytest.approx(1.0, abs=0.1)


def test_too_large_a_resolution_in_or_out(transform, clip: Path) -> None:
    with pytest.raises(MediaLimitExceeded) as caught:
        transform("video_format_conversion", {"format": "webm"}, clip, "video/mp4",
                  limits=MediaLimits(max_video_pixels=100 * 100))
    assert caught.value.details["limit"] == "video_pixels"
    with pytest.raises(MediaLimitExceeded):
        transform("video_resize", {"width": 4000}, clip, "video/mp4",
                  limits=MediaLimits(max_video_pixels=1920 * 1080))


def test_gif_frames_are_limited(transform, long_clip: Path) -> None:
    with pytest.raises(MediaLimitExceeded) as caught:
        transform("video_format_conversion", {"format": "gif", "fps": 10}, long_clip,
                  "video/mp4", limits=MediaLimits(max_frames=100))
    assert caught.value.details["limit"] == "frames"


def test_ffmpeg_is_killed_at_the_deadline(transform, long_clip: Path) -> None:
    probed(long_clip)  # the media reader is a warm child that stays: started before counting
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    started = time.monotonic()
    with pytest.raises(JobTimedOut) as caught:
        transform("video_format_conversion", {"format": "webm"}, long_clip, "video/mp4",
                  limits=MediaLimits(job_seconds=0.5))
    assert time.monotonic() - started < 5
    assert caught.value.code == "TRANSFORMATION_FAILED"
    assert "time limit" in caught.value.message
    left = {child.pid for child in psutil.Process().children(recursive=True)} - before
    assert left == set()  # the killed child is gone and reaped


def test_ffmpeg_runs_out_of_its_memory_limit(transform, clip: Path) -> None:
    with pytest.raises(MediaLimitExceeded) as caught:
        transform("video_format_conversion", {"format": "webm"}, clip, "video/mp4",
                  limits=MediaLimits(max_memory_bytes=256 * 1024**2))
    assert caught.value.details["limit"] == "memory_bytes"


def test_output_size_is_capped(transform, long_clip: Path) -> None:
    with pytest.raises(MediaLimitExceeded) as caught:
        transform("video_bitrate_adjustment", {"bitrate": "2M"}, long_clip, "video/mp4",
                  limits=MediaLimits(max_output_bytes=100_000))
    assert caught.value.details["limit"] == "output_bytes"


def test_commands_read_one_local_file_with_a_forced_demuxer(clip: Path,
                                                            tmp_path: Path) -> None:
    argv = video.build_command(clip, tmp_path / "o.mp4", probed(clip),
                               video.Encoding("mp4", width=80), MediaLimits())
    assert argv[0] == video.ffmpeg_exe()
    assert "-nostdin" in argv
    assert argv[argv.index("-protocol_whitelist") + 1] == "file,pipe"
    assert argv[argv.index("-f") + 1] == "mov"  # before -i: the input's demuxer
    assert argv.index("-f") < argv.index("-i")
    assert argv[argv.index("-fs") + 1] == str(MediaLimits().max_output_bytes)
    assert argv.count("-i") == 1


def test_a_playlist_that_fetches_urls_is_never_opened(tmp_path: Path) -> None:
    playlist = tmp_path / "list.m3u8"
    playlist.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n"
                        "http://127.0.0.1:9/segment.ts\n#EXTINF:2,\nfile:///etc/passwd\n"
                        "#EXT-X-ENDLIST\n")
    with pytest.raises(UnreadableMedia):
        probe.probe(playlist, MediaLimits())
    concat = tmp_path / "list.txt"
    concat.write_text("ffconcat version 1.0\nfile /etc/passwd\n")
    with pytest.raises(UnreadableMedia):
        probe.probe(concat, MediaLimits())


def test_a_file_without_video_is_refused(clip: Path, tmp_path: Path) -> None:
    silent = tmp_path / "silent.m4a"
    subprocess.run([video.ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-i",
                    str(clip), "-vn", "-c:a", "copy", str(silent)], check=True)
    with pytest.raises(UnreadableMedia, match="no video stream"):
        video.transcode(silent, tmp_path / "o.mp4", probed(silent), video.Encoding("mp4"),
                        MediaLimits(), Deadline(60))

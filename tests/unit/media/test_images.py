"""Image types on real files: sizes, formats, orientation applied, EXIF read, GPS never
copied into derived images, and the pixel and frame limits checked before decoding."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from shared.errors import MediaLimitExceeded, UnreadableMedia
from shared.media import images
from shared.media.limits import MediaLimits
from shared.media.metadata import extract_metadata
from tests import media_samples as samples


def opened(path: Path) -> Image.Image:
    image = Image.open(path)
    image.load()
    return image


def test_resize_fits_the_box_in_display_orientation(transform, photo: Path) -> None:
    result, output, progress = transform("image_resize", {"width": 24, "height": 24},
                                         photo, "image/jpeg")
    # Stored 64x48 with orientation 6: shown 48x64, so it fits 24 wide as 18x24.
    assert result["dimensions"] == {"width": 18, "height": 24}
    with opened(output) as image:
        assert image.size == (18, 24) and image.format == "JPEG"
        # Upright: the blue band drawn along the stored top is now on the right.
        assert image.getpixel((16, 2))[2] > 150 and image.getpixel((2, 22))[0] > 150
    assert progress[-1] == 100


def test_resize_without_ratio_and_to_another_format(transform, photo: Path) -> None:
    result, output, _ = transform("image_resize", {"width": 30, "height": 10, "format": "png",
                                                   "maintain_aspect_ratio": False},
                                  photo, "image/jpeg")
    assert result["mime_type"] == "image/png"
    with opened(output) as image:
        assert (image.format, image.size) == ("PNG", (30, 10))


@pytest.mark.parametrize(("fmt", "pil"), [("jpeg", "JPEG"), ("png", "PNG"), ("webp", "WEBP"),
                                          ("gif", "GIF")])
def test_format_conversion(transform, tmp_path: Path, fmt: str, pil: str) -> None:
    source = tmp_path / "alpha.png"
    Image.new("RGBA", (20, 10), (255, 0, 0, 0)).save(source)
    result, output, _ = transform("image_format_conversion", {"format": fmt}, source,
                                  "image/png")
    with opened(output) as image:
        assert image.format == pil and image.size == (20, 10)
    if fmt == "jpeg":  # transparency goes on white, not black
        with opened(output) as image:
            assert image.convert("RGB").getpixel((5, 5)) > (240, 240, 240)
    assert result["size_bytes"] == output.stat().st_size


def test_compression_makes_a_smaller_jpeg(transform, tmp_path: Path) -> None:
    source = tmp_path / "noise.jpg"
    Image.effect_noise((256, 256), 60).convert("RGB").save(source, quality=95)
    result, output, _ = transform("image_compression", {"quality": 30}, source, "image/jpeg")
    assert result["mime_type"] == "image/jpeg"
    assert output.stat().st_size < source.stat().st_size / 2


def test_animated_gif_stays_animated(transform, tmp_path: Path) -> None:
    source = samples.animated_gif(tmp_path / "anim.gif", frames=4)
    result, output, _ = transform("image_resize", {"width": 20}, source, "image/gif")
    assert result["frames"] == 4
    with Image.open(output) as image:
        assert image.n_frames == 4 and image.size == (20, 15)


def test_thumbnail_is_never_enlarged(transform, photo: Path) -> None:
    result, output, _ = transform("thumbnail_generation", {}, photo, "image/jpeg")
    assert result["dimensions"] == {"width": 48, "height": 64}
    with opened(output) as image:
        assert image.size == (48, 64)


def test_exif_is_read_with_gps_apart(photo: Path, limits: MediaLimits) -> None:
    metadata = extract_metadata(photo, "image/jpeg", limits)
    assert metadata["extraction"] == {"status": "done"}
    assert metadata["dimensions"] == {"width": 48, "height": 64}
    assert metadata["image"] == {"format": "jpeg", "color_mode": "RGB", "frames": 1,
                                 "animated": False}
    exif = metadata["exif"]
    assert exif["camera"] == "Canon EOS R5"
    assert exif["date_taken"] == "2024-01-15T10:30:00"
    assert exif["orientation"] == 6
    assert exif["iso"] == 400 and exif["aperture"] == "f/2.8"
    assert not any("gps" in key.lower() or "latitude" in key for key in exif)
    assert metadata["gps"] == pytest.approx(samples.GPS, abs=1e-4)


@pytest.mark.parametrize(("kind", "params", "fmt"), [
    ("image_resize", {"width": 20}, "JPEG"),
    ("image_format_conversion", {"format": "webp"}, "WEBP"),
    ("image_format_conversion", {"format": "png"}, "PNG"),
    ("image_compression", {"quality": 50}, "JPEG"),
    ("thumbnail_generation", {"format": "jpeg"}, "JPEG"),
])
def test_no_exif_nor_gps_in_derived_images(transform, photo: Path, kind: str, params: dict,
                                           fmt: str) -> None:
    with opened(photo) as original:
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the source has GPS
    _, output, _ = transform(kind, params, photo, "image/jpeg")
    with opened(output) as image:
        assert image.format == fmt
        assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert ExifTags.Base.Make not in image.getexif()
        assert "exif" not in image.info and "xmp" not in image.info
    assert b"Canon" not in output.read_bytes()


def test_a_pixel_bomb_is_refused_from_its_header(transform, tmp_path: Path) -> None:
    bomb = samples.bomb_png(tmp_path / "bomb.png")  # 100 000 x 100 000 in 200 bytes
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(MediaLimitExceeded) as caught:
        transform("thumbnail_generation", {}, bomb, "image/png")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert caught.value.details["limit"] == "pixels"
    assert caught.value.details["value"] == 10**10
    assert peak < 5 * 1024**2 and time.perf_counter() - started < 5
    metadata = extract_metadata(bomb, "image/png", MediaLimits())
    assert metadata["extraction"]["status"] == "failed"
    assert metadata["extraction"]["error_code"] == "TRANSFORMATION_FAILED"


def test_pixels_past_our_limit_but_under_pillows_are_refused_too(tmp_path: Path) -> None:
    bomb = samples.bomb_png(tmp_path / "wide.png", width=300, height=200)
    with pytest.raises(MediaLimitExceeded, match="300x200"), \
            images.open_image(bomb, MediaLimits(max_pixels=50_000)):
        pass


def test_too_many_frames(transform, tmp_path: Path) -> None:
    source = samples.animated_gif(tmp_path / "many.gif", frames=5)
    with pytest.raises(MediaLimitExceeded) as caught:
        transform("image_resize", {"width": 10}, source, "image/gif",
                  limits=MediaLimits(max_frames=4))
    assert caught.value.details["limit"] == "frames"


def test_output_larger_than_the_pixel_limit_is_refused(transform, photo: Path) -> None:
    with pytest.raises(MediaLimitExceeded):
        transform("image_resize", {"width": 10_000}, photo, "image/jpeg",
                  limits=MediaLimits(max_pixels=1_000_000))


def test_a_damaged_image_is_unreadable(transform, tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    with pytest.raises(UnreadableMedia):
        transform("image_resize", {"width": 10}, broken, "image/png")
    assert extract_metadata(broken, "image/png", MediaLimits())["extraction"]["status"] == \
        "failed"


def test_only_listed_decoders_are_used(tmp_path: Path) -> None:
    """An EPS (which Pillow would hand to Ghostscript) is not opened at all."""
    eps = tmp_path / "x.eps"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with pytest.raises(UnreadableMedia), images.open_image(eps, MediaLimits()):
        pass


def test_svg_metadata_without_rasterising(tmp_path: Path) -> None:
    svg = tmp_path / "x.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    metadata = extract_metadata(svg, "image/svg+xml", MediaLimits())
    assert metadata["image"] == {"format": "svg", "rasterised": False}

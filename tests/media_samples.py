"""Small real media made on the spot for the media tests and benchmarks: images (with EXIF
and GPS), PDFs written by hand (text pages, or a scanned page as a JPEG), DOCX with
python-docx, RTF, a pixel-bomb PNG header, an H.264/AAC clip from imageio-ffmpeg's ffmpeg,
and a rendered page of printed text for OCR."""

from __future__ import annotations

import io
import struct
import subprocess
import zlib
from pathlib import Path

import docx
from PIL import ExifTags, Image, ImageChops, ImageDraw, ImageFont

from shared.media.video import ffmpeg_exe

GPS = {"latitude": 48.8584, "longitude": 2.2945}


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Serif when the system has it (OCR reads its accents best), else Pillow's own."""
    try:
        return ImageFont.truetype("DejaVuSerif.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def photo(path: Path, size: tuple[int, int] = (64, 48), *, orientation: int = 1,
          gps: bool = True, fmt: str = "JPEG") -> Path:
    """A photo with a camera, a date, an orientation and (by default) a GPS position."""
    image = Image.new("RGB", size, (200, 40, 40))
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 2, size[1] // 4), fill=(20, 20, 220))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.Base.Model] = "Canon EOS R5"
    exif[ExifTags.Base.Orientation] = orientation
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = "2024:01:15 10:30:00"
    sub[ExifTags.Base.ISOSpeedRatings] = 400
    sub[ExifTags.Base.FNumber] = 2.8
    if gps:
        info = exif.get_ifd(ExifTags.IFD.GPSInfo)
        info[ExifTags.GPS.GPSLatitudeRef] = "N"
        info[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 30.24)
        info[ExifTags.GPS.GPSLongitudeRef] = "E"
        info[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.2)
    image.save(path, format=fmt, exif=exif.tobytes(), quality=90)
    return path


def bomb_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A valid PNG header declaring ``width`` × ``height`` pixels over a few bytes of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b""))
    return path


def animated_gif(path: Path, frames: int = 3, size: tuple[int, int] = (40, 30)) -> Path:
    images = [Image.new("RGB", size, (60 * i % 255, 100, 200)) for i in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
    return path


def text_page(lines: list[str], size: int = 48) -> Image.Image:
    """Printed text, black on white, as a scanner would give it."""
    face = font(size)
    image = Image.new("L", (size * 22, size * (2 * len(lines) + 1)), 255)
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((size, size * (1 + 2 * index)), line, font=face, fill=0)
    return image


# PDF --------------------------------------------------------------------------------------

def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252", "replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _write_pdf(path: Path, page_streams: list[tuple[bytes, dict[bytes, bytes]]],
               info: dict[str, str], size: tuple[float, float] = (612, 792)) -> Path:
    """A PDF 1.4 whose pages (US Letter by default) have the given content streams and
    XObjects."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages = add(b"")
    font_ref = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
                   b"/Encoding /WinAnsiEncoding >>")
    kids = []
    for content, xobjects in page_streams:
        stream = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        names = b"".join(b"/%s %d 0 R " % (name, add(body)) for name, body in xobjects.items())
        kids.append(add(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> /XObject << %s>> >> >>"
            % (pages, size[0], size[1], stream, font_ref, names)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages
    objects[pages - 1] = (b"<< /Type /Pages /Kids [%s] /Count %d >>"
                          % (b" ".join(b"%d 0 R" % k for k in kids), len(kids)))
    info_ref = add(b"<< " + b"".join(b"/%s %s " % (k.encode(), _pdf_string(v))
                                     for k, v in info.items()) + b">>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, catalog, info_ref, xref))
    path.write_bytes(out.getvalue())
    return path


def text_pdf(path: Path, pages: list[list[str]], *, title: str = "Mon Document",
             author: str = "John Doe") -> Path:
    """Pages of Helvetica text (WinAnsi, so French accents work)."""
    streams: list[tuple[bytes, dict[bytes, bytes]]] = []
    for lines in pages:
        body = b"BT /F1 12 Tf 72 720 Td 16 TL " + b" ".join(
            _pdf_string(line) + b" '" for line in lines) + b" ET"
        streams.append((body, {}))
    return _write_pdf(path, streams, {"Title": title, "Author": author,
                                      "CreationDate": "D:20240115103000Z"})


def scanned_pdf(path: Path, *pages: Image.Image) -> Path:
    """Pages that are only a JPEG image each (no text layer), like a scanner's output, 8.5
    inches wide and as tall as the first image's shape makes them."""
    width, height = pages[0].size
    size = (612.0, 612.0 * height / width)
    streams: list[tuple[bytes, dict[bytes, bytes]]] = []
    for page in pages:
        buffer = io.BytesIO()
        gray = page.convert("L").resize(pages[0].size)
        gray.save(buffer, format="JPEG", quality=90)
        image = (b"<< /Type /XObject /Subtype /Image /Width %d /Height %d "
                 b"/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>"
                 b"\nstream\n" % (width, height, buffer.tell()) + buffer.getvalue()
                 + b"\nendstream")
        streams.append((b"q %.2f 0 0 %.2f 0 0 cm /Im1 Do Q" % size, {b"Im1": image}))
    return _write_pdf(path, streams, {"Title": "Scan"}, size)


# Office and text ----------------------------------------------------------------------------

def docx_file(path: Path, paragraphs: list[str], *, title: str = "Rapport",
              author: str = "Marie Curie") -> Path:
    document = docx.Document()
    document.core_properties.title = title
    document.core_properties.author = author
    for text in paragraphs:
        document.add_paragraph(text)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "cellule", "tableau"
    document.save(str(path))
    return path


def rtf_file(path: Path, text: str) -> Path:
    """RTF with a font table, a bold run and \\'xx escapes for accented letters."""
    escaped = "".join(c if ord(c) < 128 else f"\\'{c.encode('cp1252')[0]:02x}" for c in text)
    path.write_bytes(("{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0\\fswiss Helvetica;}}"
                      f"\\f0\\fs24 {{\\b Titre}}\\par {escaped}\\par}}").encode("ascii"))
    return path


# Video ------------------------------------------------------------------------------------

def clip(path: Path, *, seconds: float = 1.0, size: str = "160x120", rate: int = 15,
         audio: bool = True, bitrate: str = "300k") -> Path:
    """An H.264/AAC test pattern with a tone, made by imageio-ffmpeg's static ffmpeg."""
    argv = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        argv += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
                 "-c:a", "aac", "-b:a", "64k"]
    argv += ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-b:v", bitrate,
             "-g", str(rate), "-shortest", str(path)]
    subprocess.run(argv, check=True, timeout=600, capture_output=True)
    return path


def big_photo(path: Path, size: tuple[int, int] = (6000, 4000)) -> Path:
    """A 24-megapixel JPEG with gradients and grain, like a camera's (not a flat colour,
    which every codec shortcuts)."""
    grad = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 40)
    red = ImageChops.add(grad, noise, scale=2.0)
    green = grad.rotate(90).resize(size)
    blue = ImageChops.multiply(grad.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise)
    Image.merge("RGB", (red, green, blue)).save(path, quality=90)
    return path


def printed_page(lines: int = 12, dpi: int = 150) -> Image.Image:
    """An A4 page of printed French and English text at ``dpi``, as a scanner gives it."""
    width, height = round(8.27 * dpi), round(11.69 * dpi)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    face = font(round(dpi / 6))  # 12 pt
    sentences = ["Il était une fois un petit garçon qui vivait près de la forêt.",
                 "The quick brown fox jumps over the lazy dog again and again."]
    for index in range(lines):
        draw.text((dpi, dpi + index * dpi // 3), sentences[index % 2], font=face, fill=0)
    return page

import random
import re
from urllib.parse import unquote

import pytest

from shared.delivery.disposition import (
    ascii_fallback,
    content_disposition,
    download_name,
    must_download,
    needs_sandbox,
    sanitize_filename,
)

ATTR_CHAR = re.compile(r"[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-F]{2}")


def parse(header: str) -> tuple[str, dict[str, str]]:
    """Split a Content-Disposition value the way a strict RFC 6266 parser does."""
    match = re.fullmatch(
        r"(attachment|inline)"
        r'(?:; filename="([\x20\x21\x23-\x5b\x5d-\x7e]*)")?'
        r"(?:; filename\*=UTF-8''((?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-F]{2})*))?",
        header,
    )
    assert match, header
    params = {}
    if match.group(2) is not None:
        params["filename"] = match.group(2)
    if match.group(3) is not None:
        params["filename*"] = unquote(match.group(3), encoding="utf-8", errors="strict")
    return match.group(1), params


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\bob\\secret.docx", "secret.docx"),
        ("dir/sub\\file.txt", "file.txt"),
        ("folder/", "folder"),
        ("a\r\nb.txt", "ab.txt"),
        ("a\tb\x00c\x7fd\x85e.txt", "abcde.txt"),
        ("  many   spaces\u00a0here .txt ", "many spaces here .txt"),
        ("...hidden", "hidden"),
        (". .trailing. . ", "trailing"),
        ('say "hi";.txt', "say _hi_;.txt"),
        ("a<b>c:d|e?f*g.txt", "a_b_c_d_e_f_g.txt"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # bidi override removed
        ("zero\u200bwidth.txt", "zerowidth.txt"),
        ("e\u0301te\u0301.txt", "\u00e9t\u00e9.txt"),  # NFC
        ("résumé 日本語.pdf", "résumé 日本語.pdf"),
        ("bad\ud800surrogate", "badsurrogate"),
        ("", "download"),
        ("..", "download"),
        ("/", "download"),
        ("\r\n\t", "download"),
        ("../..", "download"),
    ],
)
def test_sanitize_filename(raw: str, clean: str) -> None:
    assert sanitize_filename(raw) == clean


def test_sanitize_truncates_to_255_bytes_keeping_extension() -> None:
    name = "é" * 300 + ".pdf"
    clean = sanitize_filename(name)
    assert len(clean.encode("utf-8")) <= 255
    assert clean.endswith(".pdf")
    assert clean == "é" * 125 + ".pdf"  # 250 bytes + 4; the 126th "é" would split


def test_sanitize_truncates_multibyte_without_extension() -> None:
    clean = sanitize_filename("日" * 100)  # 3 bytes each
    assert clean == "日" * 85
    clean = sanitize_filename("x" + "😀" * 100)  # 4 bytes each: 1 + 63*4 = 253
    assert clean == "x" + "😀" * 63


def test_sanitize_long_extension_is_not_preserved() -> None:
    clean = sanitize_filename("a" * 250 + "." + "b" * 30)
    assert len(clean.encode()) == 255
    assert clean.startswith("a" * 250)


@pytest.mark.parametrize("seed", range(200))
def test_sanitize_random_names_are_safe_and_idempotent(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "ab./\\ \t\r\n\x00\x7f\"';:%é日😀\u202e\u200b\u0301"
    raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
    clean = sanitize_filename(raw)
    assert clean
    assert len(clean.encode("utf-8")) <= 255
    assert not re.search(r'[\x00-\x1f\x7f/\\"\u202e\u200b]', clean)
    assert not clean.startswith((".", " ")) and not clean.endswith((".", " "))
    assert "  " not in clean
    assert sanitize_filename(clean) == clean


def test_ascii_name_has_no_filename_star() -> None:
    assert content_disposition("attachment", "report.pdf") == 'attachment; filename="report.pdf"'
    assert content_disposition("inline", "a b.txt") == 'inline; filename="a b.txt"'


def test_non_ascii_name_gets_filename_star() -> None:
    header = content_disposition("attachment", "résumé 日本語.pdf")
    kind, params = parse(header)
    assert kind == "attachment"
    assert params == {"filename": "resume ___.pdf", "filename*": "résumé 日本語.pdf"}
    assert "%C3%A9" in header  # UTF-8 percent-encoding of é


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("100%.txt", "100_.txt"),
        ("%41.txt", "_41.txt"),
        ("a;b,c.txt", "a_b_c.txt"),
        ("naïve café.txt", "naive cafe.txt"),
        ("ﬁle.txt", "file.txt"),
        ("日本.txt", "__.txt"),
        ("日本", "__"),
    ],
)
def test_fallback_is_plain_ascii(name: str, fallback: str) -> None:
    _, params = parse(content_disposition("attachment", name))
    assert params["filename"] == fallback
    assert params["filename*"] == sanitize_filename(name)


def test_header_injection_is_impossible() -> None:
    header = content_disposition("attachment", 'x"; filename="evil.html\r\nSet-Cookie: a=b')
    assert "\r" not in header and "\n" not in header
    _, params = parse(header)  # exactly one filename and one filename* parameter
    assert params == {
        "filename": "x__ filename=_evil.htmlSet-Cookie_ a=b",
        "filename*": "x_; filename=_evil.htmlSet-Cookie_ a=b",
    }


@pytest.mark.parametrize("seed", range(200))
def test_random_names_always_give_a_valid_header(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "aZ9 ./\\\"';:,%\r\n\x00\x7fé日😀\u202e!#$&+^_`|~()[]{}=@?"
    raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
    _, params = parse(content_disposition(rng.choice(["attachment", "inline"]), raw))
    assert params.get("filename*", params["filename"]) == sanitize_filename(raw)


def test_disposition_values() -> None:
    assert content_disposition("attachment", None) == "attachment"
    assert content_disposition("INLINE", None) == "inline"
    assert content_disposition("attachment", "").startswith('attachment; filename="download"')
    for bad in ["form-data", "", "attachment; x=y", "inline\r\n"]:
        with pytest.raises(ValueError):
            content_disposition(bad, "a.txt")


def test_ascii_fallback_never_empty() -> None:
    assert ascii_fallback("...") == "download"


@pytest.mark.parametrize(
    "mime",
    [
        "text/html",
        "TEXT/HTML; charset=utf-8",
        " text/html ;charset=utf-8",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "application/rss+xml",
        "application/vnd.foo+XML",
        "text/javascript",
        "application/javascript",
        "application/ecmascript",
        "text/ecmascript",
        "application/x-javascript",
        "text/x-javascript",
        "text/css",
        "multipart/x-mixed-replace; boundary=x",
        "",
        "html",
        "text/ html",
        "text/html/evil",
    ],
)
def test_must_download(mime: str) -> None:
    assert must_download(mime) is True


@pytest.mark.parametrize(
    "mime",
    [
        "application/pdf",
        "image/png",
        "image/jpeg",
        "video/mp4",
        "text/plain; charset=utf-8",
        "application/json",
        "application/octet-stream",
        "audio/mpeg",
        "application/xml-dtd",  # not +xml, not in the list
    ],
)
def test_inline_is_fine(mime: str) -> None:
    assert must_download(mime) is False


# --- a download's name keeps the stored type's extension ---------------------------------

EXECUTABLE_OR_ACTIVE = [".exe", ".html", ".htm", ".svg", ".js", ".bat", ".cmd", ".ps1", ".sh",
                        ".jar", ".msi", ".scr", ".lnk", ".hta", ".vbs", ".com", ".pif",
                        ".reg", ".iso", ".xml", ".docm", ".desktop", ".url", ".py"]


@pytest.mark.parametrize("extension", EXECUTABLE_OR_ACTIVE)
@pytest.mark.parametrize(("mime", "own"), [("image/png", ".png"), ("text/plain", ".txt"),
                                           ("application/pdf", ".pdf"),
                                           ("application/octet-stream", ".bin")])
def test_an_executable_or_active_extension_is_replaced(extension: str, mime: str,
                                                       own: str) -> None:
    assert download_name(f"facture{extension}", mime) == f"facture{own}"
    assert download_name(f"facture{extension.upper()}", mime) == f"facture{own}"
    assert download_name(f"facture{extension}. ", mime) == f"facture{own}"  # Windows trims


@pytest.mark.parametrize(
    ("name", "mime", "expected"),
    [
        ("photo.png", "image/png", "photo.png"),
        ("photo.JPEG", "image/jpeg", "photo.JPEG"),  # any of the type's own extensions
        ("photo.jpe", "image/jpeg", "photo.jpe"),
        ("photo.jpg", "image/png", "photo.png"),  # another type's extension: replaced
        ("rapport v2", "application/pdf", "rapport v2.pdf"),  # none: appended
        ("rapport.v2", "application/pdf", "rapport.v2.pdf"),  # unknown: appended
        ("x.png.exe", "image/png", "x.png.png"),
        ("\u202egnp.exe", "image/png", "gnp.png"),  # the bidi override is dropped first
        ("../../x.exe", "image/png", "x.png"),
        (".exe", "image/png", "exe.png"),
        ("page.html", "text/html", "page.html"),  # the stored type's own
        ("page.htm", "text/html", "page.html"),
        ("logo.svg", "image/svg+xml", "logo.svg"),
        ("notes.bat", "text/plain", "notes.txt"),  # Python's table files .bat as text/plain
        ("build.c", "text/plain", "build.c"),
    ],
)
def test_download_name(name: str, mime: str, expected: str) -> None:
    assert download_name(name, mime) == expected


def test_a_long_name_keeps_the_new_extension_within_255_bytes() -> None:
    name = download_name("é" * 300 + ".exe", "image/png")
    assert name.endswith(".png") and len(name.encode()) <= 255


@pytest.mark.parametrize("seed", range(5))
def test_random_names_always_end_in_the_type_extension(seed: int) -> None:
    generator = random.Random(seed)
    alphabet = "abc.exe/\\:*? \u202e\u200béè.html.js"
    for _ in range(300):
        name = "".join(generator.choice(alphabet) for _ in range(generator.randint(0, 30)))
        safe = download_name(name, "image/png")
        assert safe.lower().endswith(".png"), (name, safe)
        assert sanitize_filename(safe) == safe


@pytest.mark.parametrize(("mime", "sandboxed"), [
    ("application/pdf", True), ("Application/PDF; x=1", True), ("text/html", True),
    ("image/svg+xml", True), ("text/xml", True), ("application/javascript", True), ("", True),
    ("image/png", False), ("text/plain", False), ("video/mp4", False),
])
def test_needs_sandbox(mime: str, sandboxed: bool) -> None:
    assert needs_sandbox(mime) is sandboxed

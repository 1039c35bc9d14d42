"""Safe ``Content-Disposition`` headers (RFC 6266, RFC 8187) and the "must download" rule.

Choices:

* ``filename*`` is only added when the ASCII ``filename`` fallback differs from the real name:
  pure ASCII-safe names get a short header, every other name round-trips exactly in every
  browser that reads ``filename*`` (all current ones), and older ones get the fallback.
* ``text/css`` is forced to download like HTML, SVG, XML and JavaScript: it is not executed by
  navigation, but it is active content (selectors can exfiltrate page data, legacy engines ran
  ``expression()``), and serving it as an attachment costs a user nothing.
* An empty or unparseable media type also forces a download: we cannot vouch for it.
* A download's name ends in an extension of the stored type (``download_name``): a client
  choosing ``filename=x.exe`` for a PNG gets ``x.png``, since the saved file's extension
  decides what the user's system does with it. A dangerous extension (an executable,
  script, shortcut, installer, disk image or active document) or another known type's
  extension is replaced; no extension or an unknown one gets the type's extension
  appended ("rapport v2" -> "rapport v2.pdf").
* PDFs and the active types above are served with ``Content-Security-Policy: sandbox``
  (``needs_sandbox``): rendered inline they run in an opaque origin, without scripts, forms
  or access to the service's origin.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from urllib.parse import quote

from shared.media.detect import extension_for
from shared.names import FALLBACK_NAME, sanitize_filename

# RFC 8187 attr-char minus ALPHA / DIGIT, which quote() never escapes.
_ATTR_CHAR_PUNCTUATION = "!#$&+-.^_`|~"
# In the quoted fallback: `\` is an escape, `%` is decoded by some agents (RFC 6266 App. D),
# `;` and `,` confuse naive parsers.
_FALLBACK_UNSAFE = re.compile(r'[^\x20-\x7e]|[\\%;,"]')
_TOKEN = r"[!#$%&'*+.^_`|~0-9a-z-]+"
_ESSENCE = re.compile(f"{_TOKEN}/{_TOKEN}")

_ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/xsl",
        "text/css",
        "multipart/x-mixed-replace",
        "application/x-shockwave-flash",
        # The JavaScript MIME type essences of the WHATWG MIME Sniffing standard.
        "application/ecmascript",
        "application/javascript",
        "application/x-ecmascript",
        "application/x-javascript",
        "text/ecmascript",
        "text/javascript",
        "text/javascript1.0",
        "text/javascript1.1",
        "text/javascript1.2",
        "text/javascript1.3",
        "text/javascript1.4",
        "text/javascript1.5",
        "text/jscript",
        "text/livescript",
        "text/x-ecmascript",
        "text/x-javascript",
    }
)


# Extensions that make a saved file run or render actively when opened on Windows, macOS or
# Linux (executables, scripts, installers, shortcuts, disk images that bypass the
# downloaded-file mark, macro documents, pages); after the lists browsers and mail clients
# block or warn about.
DANGEROUS_EXTENSIONS = frozenset({
    ".ade", ".adp", ".app", ".application", ".appref-ms", ".appx", ".appxbundle", ".apk", ".asp",
    ".aspx", ".bas", ".bash", ".bat", ".cab", ".cer", ".cgi", ".chm", ".class", ".cmd", ".com",
    ".command", ".cpl", ".crt", ".crx", ".csh", ".der", ".desktop", ".diagcab", ".dll", ".dmg",
    ".docm", ".dotm", ".drv", ".elf", ".exe", ".fxp", ".gadget", ".grp", ".hlp", ".hta", ".htm",
    ".html", ".img", ".inf", ".ins", ".iso", ".isp", ".jar", ".jnlp", ".js", ".jse", ".jsp",
    ".jsx", ".ksh", ".library-ms", ".lnk", ".mad", ".maf", ".mag", ".mam", ".maq", ".mar", ".mas",
    ".mat", ".mau", ".mav", ".maw", ".mda", ".mdb", ".mde", ".mdt", ".mdw", ".mdz", ".mht",
    ".mhtml", ".mjs", ".msc", ".msh", ".msh1", ".msh2", ".mshxml", ".msh1xml", ".msh2xml", ".msi",
    ".msix", ".msixbundle", ".msp", ".mst", ".ocx", ".one", ".ops", ".pcd", ".php", ".phtml",
    ".pif", ".pkg", ".pl", ".plg", ".potm", ".ppam", ".ppsm", ".pptm", ".prf", ".prg", ".ps1",
    ".ps1xml", ".ps2", ".ps2xml", ".psc1", ".psc2", ".psd1", ".psm1", ".pst", ".py", ".pyc",
    ".pyo", ".pyw", ".pyz", ".rb", ".reg", ".run", ".scf", ".scr", ".sct", ".search-ms",
    ".settingcontent-ms", ".sh", ".shb", ".shs", ".shtml", ".so", ".svg", ".svgz", ".swf", ".sys",
    ".tool", ".url", ".vb", ".vbe", ".vbp", ".vbs", ".vhd", ".vhdx", ".vsmacros", ".vsw",
    ".webloc", ".website", ".ws", ".wsc", ".wsf", ".wsh", ".xbap", ".xht", ".xhtml", ".xlam",
    ".xll", ".xlsm", ".xltm", ".xml", ".xnk", ".xsl", ".xslt", ".zsh"
})
# Python's own table only: /etc/mime.types differs between machines.
_BUILTIN_TYPES = mimetypes.MimeTypes()


def content_disposition(disposition: str, filename: str | None) -> str:
    """``attachment; filename="..."; filename*=UTF-8''...`` (or ``inline``) for any name."""
    kind = disposition.lower()
    if kind not in {"attachment", "inline"}:
        raise ValueError("disposition must be 'attachment' or 'inline'")
    if filename is None:
        return kind
    name = sanitize_filename(filename)
    fallback = ascii_fallback(name)
    header = f'{kind}; filename="{fallback}"'
    if fallback != name:
        header += f"; filename*=UTF-8''{quote(name, safe=_ATTR_CHAR_PUNCTUATION)}"
    return header


def download_name(name: str, mime_type: str) -> str:
    """``name``, made safe, ending in an extension of the stored type ``mime_type``."""
    name = sanitize_filename(name)
    own = extension_for(mime_type)
    stem, dot, suffix = name.rpartition(".")
    extension = f".{suffix.lower()}" if dot and stem else ""
    if extension == own or extension in _own_extensions(mime_type):
        return name
    known = extension in DANGEROUS_EXTENSIONS or _BUILTIN_TYPES.guess_type(f"x{extension}")[0]
    return sanitize_filename((stem if extension and known else name) + own)


def _own_extensions(mime_type: str) -> set[str]:
    """The type's extensions in Python's table, less the dangerous ones (the table files
    ``.bat`` under text/plain and ``.exe`` under application/octet-stream)."""
    return set(_BUILTIN_TYPES.guess_all_extensions(mime_type)) - DANGEROUS_EXTENSIONS


def needs_sandbox(mime_type: str) -> bool:
    """True for types a browser renders actively: PDFs and what ``must_download`` lists."""
    essence = mime_type.split(";", 1)[0].strip().lower()
    return essence == "application/pdf" or must_download(mime_type)


def ascii_fallback(name: str) -> str:
    """The ``filename`` parameter value: printable ASCII, no quote, backslash or percent."""
    # NFKD splits "é" into "e" + combining accent, so accents become plain letters.
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    fallback = _FALLBACK_UNSAFE.sub("_", stripped).strip(" .")
    return fallback or FALLBACK_NAME


def must_download(mime_type: str) -> bool:
    """True for media types a browser could execute or render as active content.

    Such files are served as attachments, so that they never run in the service's origin.
    ``application/pdf`` is not included: browsers render it in a sandboxed viewer.
    """
    essence = mime_type.split(";", 1)[0].strip().lower()
    if not _ESSENCE.fullmatch(essence):
        return True
    return essence in _ACTIVE_TYPES or essence.endswith("+xml")

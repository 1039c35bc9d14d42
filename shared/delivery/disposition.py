"""Safe ``Content-Disposition`` headers (RFC 6266, RFC 8187) and the "must download" rule.

Choices:

* ``filename*`` is only added when the ASCII ``filename`` fallback differs from the real name:
  pure ASCII-safe names get a short header, every other name round-trips exactly in every
  browser that reads ``filename*`` (all current ones), and older ones get the fallback.
* ``text/css`` is forced to download like HTML, SVG, XML and JavaScript: it is not executed by
  navigation, but it is active content (selectors can exfiltrate page data, legacy engines ran
  ``expression()``), and serving it as an attachment costs a user nothing.
* An empty or unparseable media type also forces a download: we cannot vouch for it.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

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

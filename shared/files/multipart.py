"""A streaming multipart/form-data reader on top of python-multipart's push parser.

``feed`` returns the events one chunk produced, so the caller can act on file bytes as
they arrive (hash, check, store) without buffering the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from shared.errors import BadRequest


@dataclass
class PartStart:
    name: str
    filename: str | None
    content_type: str | None


@dataclass
class PartData:
    data: bytes


@dataclass
class PartEnd:
    pass


Event = PartStart | PartData | PartEnd


# RFC 2046 allows 70 characters; python-multipart refuses more than 256 (with an error of
# its own, which must not become a 500).
MAX_BOUNDARY_CHARS = 256


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def boundary_of(content_type: str | None) -> bytes:
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadRequest("Content-Type must be multipart/form-data with a boundary",
                         details={"content_type": (content_type or "")[:300]})
    if len(boundary) > MAX_BOUNDARY_CHARS:
        raise BadRequest("The multipart boundary is too long",
                         details={"max_boundary_chars": MAX_BOUNDARY_CHARS})
    return boundary


@dataclass
class _State:
    events: list[Event] = field(default_factory=list)
    headers: dict[str, bytes] = field(default_factory=dict)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    data: list[bytes] = field(default_factory=list)
    finished: bool = False


class MultipartReader:
    def __init__(self, content_type: str | None) -> None:
        self._state = _State()
        s = self._state

        def on_part_begin() -> None:
            s.headers = {}


        def on_header_field(data: bytes, start: int, end: int) -> None:
            s.header_field += data[start:end]

        def on_header_value(data: bytes, start: int, end: int) -> None:
            s.header_value += data[start:end]

        def on_header_end() -> None:
            s.headers[s.header_field.decode("latin-1").lower()] = bytes(s.header_value)
            s.header_field.clear()
            s.header_value.clear()

        def on_headers_finished() -> None:
            # Parsed as bytes: clients send file names as raw UTF-8 (browsers, httpx, curl).
            _, options = parse_options_header(s.headers.get("content-disposition", b""))
            name = _text(options.get(b"name", b""))
            raw_filename = options.get(b"filename")
            filename = _text(raw_filename) if raw_filename is not None else None
            content_type = s.headers.get("content-type")
            s.events.append(PartStart(name, filename,
                                      _text(content_type) if content_type else None))

        def on_part_data(data: bytes, start: int, end: int) -> None:
            s.data.append(data[start:end])

        def on_part_end() -> None:
            self._flush_data()
            s.events.append(PartEnd())

        def on_end() -> None:
            s.finished = True

        self._parser = MultipartParser(boundary_of(content_type), {
            "on_part_begin": on_part_begin, "on_header_field": on_header_field,
            "on_header_value": on_header_value, "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
            "on_part_end": on_part_end, "on_end": on_end,
        }, max_header_count=16)

    def _flush_data(self) -> None:
        if self._state.data:
            self._state.events.append(PartData(b"".join(self._state.data)))
            self._state.data.clear()

    def feed(self, chunk: bytes) -> list[Event]:
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise BadRequest("Malformed multipart body", details={"reason": str(exc)}) from exc
        self._flush_data()
        events, self._state.events = self._state.events, []
        return events

    @property
    def finished(self) -> bool:
        return self._state.finished

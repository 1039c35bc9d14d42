"""MD5 and SHA-256 whose running state can be saved and resumed elsewhere.

A resumable upload is received by many requests, possibly on different instances, so the
file's digests must be carried between requests in the database. ``hashlib`` objects cannot
be exported (nor pickled), and a pure-Python SHA-256 runs at a few MiB/s. OpenSSL's
low-level ``SHA256_*``/``MD5_*`` functions (public API in ``openssl/sha.h`` and ``md5.h``,
still exported by OpenSSL 3) keep their whole state in a plain C struct of 32-bit words with
no pointers: that struct *is* the state. Here it is driven through ``ctypes`` on the same
libcrypto that ``hashlib`` uses, so hashing runs at hashlib's speed (the foreign call
releases the GIL) and ``export()`` is a copy of 204 bytes.

The exported form is versioned and little-endian, so any instance can resume it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import struct
from functools import lru_cache
from pathlib import Path

_VERSION = 1
_WORD = ctypes.c_uint32


class _Sha256Ctx(ctypes.Structure):  # SHA256_CTX: h[8], Nl, Nh, data[16], num, md_len
    _fields_ = [("h", _WORD * 8), ("nl", _WORD), ("nh", _WORD), ("data", _WORD * 16),
                ("num", ctypes.c_uint), ("md_len", ctypes.c_uint)]


class _Md5Ctx(ctypes.Structure):  # MD5_CTX: A, B, C, D, Nl, Nh, data[16], num
    _fields_ = [("abcd", _WORD * 4), ("nl", _WORD), ("nh", _WORD), ("data", _WORD * 16),
                ("num", ctypes.c_uint)]


_SHA_WORDS = ctypes.sizeof(_Sha256Ctx) // 4
_MD5_WORDS = ctypes.sizeof(_Md5Ctx) // 4
_LAYOUT = struct.Struct(f"<B{_SHA_WORDS + _MD5_WORDS}I")
STATE_SIZE = _LAYOUT.size


class HashStateError(ValueError):
    """An exported state that this build cannot resume."""


def _libcrypto_paths() -> list[str]:
    hashlib.md5()  # make sure the libcrypto behind hashlib is loaded
    paths = []
    maps = Path("/proc/self/maps")
    if maps.exists():  # the very library hashlib uses, when the platform tells
        for line in maps.read_text().splitlines():
            path = line.split()[-1] if line.split() else ""
            if "libcrypto" in Path(path).name and path not in paths:
                paths.append(path)
    found = ctypes.util.find_library("crypto")
    if found:
        paths.append(found)
    return paths


@lru_cache(maxsize=1)
def _lib() -> ctypes.CDLL:
    for path in _libcrypto_paths():
        try:
            lib = ctypes.CDLL(path)
            for name in ("SHA256_Init", "SHA256_Update", "SHA256_Final",
                         "MD5_Init", "MD5_Update", "MD5_Final"):
                getattr(lib, name)
        except (OSError, AttributeError):
            continue
        for name in ("SHA256_Update", "MD5_Update"):
            getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        for name in ("SHA256_Final", "MD5_Final"):
            getattr(lib, name).argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        return lib
    raise RuntimeError("libcrypto with the SHA256_*/MD5_* functions was not found")


def _words(ctx: ctypes.Structure) -> tuple[int, ...]:
    count = ctypes.sizeof(ctx) // 4
    return tuple((_WORD * count).from_buffer_copy(bytes(ctx)))


class FileHashes:
    """MD5 and SHA-256 of a byte stream, fed in order; ``export`` / ``resume`` carry the
    running state between processes."""

    def __init__(self) -> None:
        lib = _lib()
        self._sha = _Sha256Ctx()
        self._md5 = _Md5Ctx()
        lib.SHA256_Init(ctypes.byref(self._sha))
        lib.MD5_Init(ctypes.byref(self._md5))
        self.length = 0

    def update(self, data: bytes | memoryview) -> None:
        """Feed bytes (a ``bytes`` is hashed without a copy; other buffers are copied)."""
        raw = data if isinstance(data, bytes) else bytes(data)
        lib = _lib()
        lib.SHA256_Update(ctypes.byref(self._sha), raw, len(raw))
        lib.MD5_Update(ctypes.byref(self._md5), raw, len(raw))
        self.length += len(raw)

    def export(self) -> bytes:
        return _LAYOUT.pack(_VERSION, *_words(self._sha), *_words(self._md5))

    @classmethod
    def resume(cls, state: bytes) -> FileHashes:
        if len(state) != STATE_SIZE or state[0] != _VERSION:
            raise HashStateError("unknown hash state format")
        words = _LAYOUT.unpack(state)[1:]
        hashes = cls.__new__(cls)
        hashes._sha = _Sha256Ctx.from_buffer_copy(_pack(words[:_SHA_WORDS]))
        hashes._md5 = _Md5Ctx.from_buffer_copy(_pack(words[_SHA_WORDS:]))
        sha_bits = (hashes._sha.nh << 32) | hashes._sha.nl
        if (hashes._md5.nh << 32 | hashes._md5.nl) != sha_bits or sha_bits % 8:
            raise HashStateError("the two digests disagree on the length hashed")
        hashes.length = sha_bits // 8
        return hashes

    def digests(self) -> tuple[str, str, bytes]:
        """(md5 hex, sha256 hex, md5 raw) of everything fed so far; the state is kept."""
        lib = _lib()
        sha, md5 = _Sha256Ctx.from_buffer_copy(self._sha), _Md5Ctx.from_buffer_copy(self._md5)
        sha_out, md5_out = ctypes.create_string_buffer(32), ctypes.create_string_buffer(16)
        lib.SHA256_Final(sha_out, ctypes.byref(sha))
        lib.MD5_Final(md5_out, ctypes.byref(md5))
        return md5_out.raw.hex(), sha_out.raw.hex(), md5_out.raw


def _pack(words: tuple[int, ...]) -> bytes:
    """Words in the machine's order, as the C struct holds them."""
    return struct.pack(f"={len(words)}I", *words)

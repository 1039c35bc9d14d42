"""OCR with rapidocr-onnxruntime: PP-OCRv4 detection and recognition models shipped inside
the wheel, run by onnxruntime on the CPU, offline.

The bundled recognition model reads Latin script (English, and French with most of its
accents: "était déja" for "était déjà") beside Chinese; there is no separate French model
in the wheel, so the ``languages`` parameter narrows the language reported for the text.
One engine per process, loaded on first use (about half a second), used by one job at a
time: onnxruntime already spreads one image over every core.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np
from PIL import Image

MAX_SIDE = 4000  # larger scans are scaled down first; the detector works at 736-2000 px


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float


class OcrEngine(Protocol):
    def read(self, image: Image.Image) -> list[OcrLine]: ...


class RapidOcr:
    def __init__(self) -> None:
        self._lock = threading.Lock()

    @staticmethod
    @lru_cache(maxsize=1)
    def _engine():  # type: ignore[no-untyped-def]
        from rapidocr_onnxruntime import RapidOCR

        return RapidOCR()

    def read(self, image: Image.Image) -> list[OcrLine]:
        if max(image.size) > MAX_SIDE:
            image = image.copy()
            image.thumbnail((MAX_SIDE, MAX_SIDE))
        pixels = np.asarray(image.convert("RGB"))[:, :, ::-1]  # the engine expects BGR
        with self._lock:
            result, _ = self._engine()(pixels)
        # The engine returns the lines in reading order (top to bottom, left to right).
        return [OcrLine(text=str(text), confidence=float(score))
                for _box, text, score in (result or [])]


def page_text(lines: list[OcrLine], min_confidence: float) -> str:
    return "\n".join(line.text for line in lines if line.confidence >= min_confidence)


engine: OcrEngine = RapidOcr()

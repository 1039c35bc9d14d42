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

# The detector sees the image with its long side at most DETECT_SIDE ("max" limit). The
# package's default ("min" side up to 736 px) enlarges a line of text 5-fold and takes
# seconds where this takes a tenth; small images are first enlarged to MIN_SIDE.
DETECT_SIDE = 2000
MIN_SIDE = 960
MAX_SIDE = 4000


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

        return RapidOCR(det_limit_type="max", det_limit_side_len=DETECT_SIDE)

    def read(self, image: Image.Image) -> list[OcrLine]:
        longest = max(image.size)
        if longest > MAX_SIDE or longest < MIN_SIDE:
            scale = (MAX_SIDE if longest > MAX_SIDE else MIN_SIDE) / longest
            image = image.resize((max(1, round(image.width * scale)),
                                  max(1, round(image.height * scale))), Image.Resampling.LANCZOS)
        pixels = np.asarray(image.convert("RGB"))[:, :, ::-1]  # the engine expects BGR
        with self._lock:
            result, _ = self._engine()(pixels)
        # The engine returns the lines in reading order (top to bottom, left to right).
        return [OcrLine(text=str(text), confidence=float(score))
                for _box, text, score in (result or [])]


def page_text(lines: list[OcrLine], min_confidence: float) -> str:
    return "\n".join(line.text for line in lines if line.confidence >= min_confidence)


engine: OcrEngine = RapidOcr()

"""Small real media, made once per session, and helpers to run a transformation type."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.auth import Role
from shared.media.jobs import run_job
from shared.media.limits import MediaLimits
from shared.media.registry import validate_transformation
from shared.settings import Settings
from tests import media_samples as samples

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FRENCH = ("Il était une fois un petit garçon qui vivait dans une grande maison près de la "
          "forêt, avec ses parents et son chien.")


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clip(media_dir: Path) -> Path:
    """One second of 160x120 H.264 at 15 fps with an AAC tone."""
    return samples.clip(media_dir / "clip.mp4")


@pytest.fixture(scope="session")
def long_clip(media_dir: Path) -> Path:
    """Long enough (20 s of 320x240 at 25 fps) that a conversion is still running after a
    fraction of a second."""
    return samples.clip(media_dir / "long.mp4", seconds=20, size="320x240", rate=25,
                        bitrate="500k")


@pytest.fixture(scope="session")
def photo(media_dir: Path) -> Path:
    """64x48 stored, orientation 6 (shown turned: 48x64), Canon EOS R5, GPS near Paris."""
    return samples.photo(media_dir / "photo.jpg", orientation=6)


@pytest.fixture(scope="session")
def text_pdf(media_dir: Path) -> Path:
    return samples.text_pdf(media_dir / "text.pdf", [[FRENCH, "Deuxième ligne"],
                                                      ["Page deux", "Fin du document"]])


@pytest.fixture
def limits() -> MediaLimits:
    return MediaLimits()


Run = Callable[..., dict[str, Any]]


@pytest.fixture
def transform(tmp_path: Path) -> Run:
    """``transform(type, params, source, mime, limits=None, role=ADMIN)`` -> (result, output,
    progress): validated as POST /transform will, then run as the worker will."""

    def run(transformation_type: str, parameters: dict[str, Any], source: Path, mime: str,
            limits: MediaLimits | None = None, role: Role = Role.ADMIN) -> Any:
        valid = validate_transformation(transformation_type, parameters, mime, role,
                                        Settings())
        output = tmp_path / f"out-{transformation_type}{valid.output.extension}"
        progress: list[int] = []

        async def go() -> dict[str, Any]:
            return await run_job(valid, source, output, limits or MediaLimits(),
                                 progress.append)

        result = asyncio.run(go())
        return result, output, progress

    return run

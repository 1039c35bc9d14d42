"""Paths and small helpers of the offline deployment checks."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BICEP = ROOT / "infra" / "bicep"
MANIFEST = ROOT / "infra" / "hooks" / "manifest.py"


def bicep_files() -> list[Path]:
    return sorted(BICEP.rglob("*.bicep"))


def unquote(key: str) -> str:
    """pycep keeps the quotes of quoted object keys ('a-b')."""
    return key[1:-1] if len(key) > 1 and key[0] == key[-1] == "'" else key

"""An ``AppContext`` made of in-memory parts: no service, no network, milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.context import AppContext
from shared.crypto.keys import KeyRing
from shared.settings import Settings
from shared.storage import Stores
from shared.storage.memory import MemoryStore
from tests.fakes.database import FakeDatabase
from tests.fakes.queues import MemoryQueues


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def fake_context(*, encryption_key: str = "", **settings: Any) -> AppContext:
    """Settings from keyword arguments (field names) over the defaults; the environment is
    not read for anything the caller passes."""
    # 32 bytes or more: settings refuse a shorter HS256 secret outside local development.
    values = {"jwt_secret": "unit-test-secret-of-32-bytes-or-more",
              "encryption_key": encryption_key, **settings}
    clock = FakeClock()
    return AppContext(
        settings=Settings.model_validate(_aliased(values)),
        stores=Stores(primary=MemoryStore()),
        backup=MemoryStore(name="backup", container="backup"),
        db=FakeDatabase(clock),
        keyring=KeyRing.from_settings(encryption_key, []),
        queues=MemoryQueues(),
        clock=clock,
    )


def _aliased(values: dict[str, Any]) -> dict[str, Any]:
    """Settings fields are read by their environment names (validation aliases)."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        alias = Settings.model_fields[name].validation_alias
        key = alias if isinstance(alias, str) else alias.choices[0]  # type: ignore[union-attr]
        out[str(key)] = value
    return out

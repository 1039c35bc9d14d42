"""What the domain's services depend on, passed to them explicitly as one small object.

The functions layer builds one ``AppContext`` per instance (``functions/_context.py``
through ``shared.wiring.build_context``); unit tests build one from in-memory parts
(``tests/fakes``). Nothing in it is bound to an event loop: the adapters create their
clients and pools lazily, per loop (``shared.aio.LoopLocal``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.cdn import CdnProvider
from shared.crypto.keys import KeyRing
from shared.db.access import AccessLog
from shared.db.repository import Database
from shared.limits import Admission
from shared.queues import Queues
from shared.settings import Settings
from shared.storage.base import ObjectStore, Stores

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    stores: Stores           # stores.primary takes new files; stores.of(row) reads one
    backup: ObjectStore      # the second cloud's copy (S3)
    db: Database             # units of work: db.connection() / db.transaction()
    keyring: KeyRing         # wraps the data keys of encrypted files
    queues: Queues           # processing queues
    clock: Clock = utc_now   # aware UTC datetimes
    cdn: tuple[CdnProvider, ...] = ()  # every configured CDN provider (shared/cdn)
    access: AccessLog = field(default_factory=AccessLog)  # batched last-access writes
    uploads: Admission = field(default_factory=Admission)  # upload limits (shared/limits)

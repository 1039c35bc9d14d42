"""Many file rows at once through COPY, for the scale benchmark (``python -m bench scale``)
and the test that every listing query keeps an index (tests/integration/test_listing_plans.py).

Rows look like a content application's: names from a small vocabulary with a serial
number, 50 projects plus a rare one, four file types, a description on one file in three
(French and English words), up to three tags, 5 % in the trash, three years of creation
dates. Deterministic for a given seed. ``file_totals`` and ``storage_usage`` are left to
the triggers and to ``sync_usage``.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

WORDS = ("report", "invoice", "photo", "holiday", "contract", "slides", "budget", "draft",
         "scan", "recording", "interview", "poster", "chapitre", "facture", "réunion")
DESCRIPTION_WORDS = ("annual", "review", "summer", "family", "projet", "équipe", "client",
                     "final", "version", "notes", "printemps", "marketing", "legal", "team")
TAGS = ("work", "personal", "urgent", "archive", "shared", "travail", "famille", "todo",
        "2024", "2025", "print", "web")
TYPES = (("image", "image/png", "png", 40), ("document", "application/pdf", "pdf", 35),
         ("video", "video/mp4", "mp4", 15), ("audio", "audio/mpeg", "mp3", 10))
RARE_PROJECT = "proj-rare"
RARE_PROJECT_EVERY = 10_000  # one file in 10,000 is in the rare project
COLUMNS = ("id", "user_id", "project_id", "original_name", "file_path", "file_type",
           "mime_type", "size_bytes", "checksum_md5", "checksum_sha256", "created_at",
           "updated_at", "deleted_at", "recovery_deadline", "description", "tags")
START = datetime(2023, 1, 1, tzinfo=UTC)


def _row(rng: random.Random, user: str, serial: int) -> tuple[Any, ...]:
    file_id = uuid.UUID(int=rng.getrandbits(128), version=4)
    kind, mime, ext, _ = rng.choices(TYPES, weights=[t[3] for t in TYPES])[0]
    project = (RARE_PROJECT if serial % RARE_PROJECT_EVERY == 7
               else None if rng.random() < 0.1 else f"proj-{rng.randrange(50):02d}")
    created = START + timedelta(seconds=rng.randrange(3 * 365 * 86400))
    trashed = created + timedelta(days=1) if rng.random() < 0.05 else None
    description = (" ".join(rng.choices(DESCRIPTION_WORDS, k=rng.randint(3, 8)))
                   if rng.random() < 1 / 3 else None)
    tags = sorted(set(rng.choices(TAGS, k=rng.randint(0, 3))))
    digest = hashlib.sha256(f"{user}/{serial}".encode()).hexdigest()
    return (file_id, user, project, f"{rng.choice(WORDS)}-{serial:07d}.{ext}",
            f"users/{user}/{file_id}.{ext}", kind, mime, rng.randrange(1_000, 100_000_000),
            digest[:32], digest, created, created + timedelta(hours=rng.randrange(1000)),
            trashed, trashed + timedelta(days=30) if trashed else None, description, tags)


def seed_files(database_url: str, user: str, count: int, *, seed: int = 11,
               first_serial: int = 0) -> None:
    """COPY ``count`` rows owned by ``user`` into ``files``."""
    rng = random.Random(f"{seed}/{user}")
    statement = f"COPY files ({', '.join(COLUMNS)}) FROM STDIN"
    with psycopg.connect(database_url, autocommit=True) as conn, conn.cursor() as cur, \
            cur.copy(statement) as copy:
        for serial in range(first_serial, first_serial + count):
            copy.write_row(_row(rng, user, serial))


def sync_usage(database_url: str) -> None:
    """Set ``storage_usage`` from the rows (what the quotas would have counted), then
    VACUUM ANALYZE ``files``: statistics for the planner, a visibility map for index-only
    scans (what autovacuum does on its own after a while)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO storage_usage (user_id, used_bytes, file_count)"
            " SELECT user_id, sum(size_bytes), count(*) FROM files WHERE deleted_at IS NULL"
            " GROUP BY user_id ON CONFLICT (user_id) DO UPDATE"
            " SET used_bytes = excluded.used_bytes, file_count = excluded.file_count")
        conn.execute("VACUUM ANALYZE files")
        conn.execute("ANALYZE file_totals")

"""Per-role storage quotas: premium gets more, admin is unlimited."""

from __future__ import annotations

from shared.auth import Principal, Role
from shared.settings import Settings


def quota_for(principal: Principal, settings: Settings) -> int | None:
    """Bytes the principal may hold in live files; None means unlimited."""
    return {
        Role.USER: settings.quota_user_bytes,
        Role.PREMIUM: settings.quota_premium_bytes,
        Role.ADMIN: None,
    }[principal.role]


def remaining(quota: int | None, used: int) -> int | None:
    return None if quota is None else max(quota - used, 0)


def usage_percent(quota: int | None, used: int) -> float:
    return 0.0 if not quota else round(100.0 * used / quota, 2)

"""Per-role quotas: user and premium from the settings, admin unlimited."""

from __future__ import annotations

import pytest

from shared.auth import Principal, Role
from shared.files.quotas import quota_for, remaining, usage_percent
from shared.settings import Settings

pytestmark = pytest.mark.usefixtures("clean_env")

MiB = 1024**2


@pytest.fixture
def settings() -> Settings:
    return Settings(QUOTA_USER_BYTES="8MB", QUOTA_PREMIUM_BYTES="20MB")


def test_quota_per_role(settings: Settings) -> None:
    assert quota_for(Principal("u", Role.USER), settings) == 8 * MiB
    assert quota_for(Principal("p", Role.PREMIUM), settings) == 20 * MiB
    assert quota_for(Principal("a", Role.ADMIN), settings) is None


def test_default_quotas_give_premium_more() -> None:
    defaults = Settings()
    user = quota_for(Principal("u", Role.USER), defaults)
    premium = quota_for(Principal("p", Role.PREMIUM), defaults)
    assert user == 5 * 1024**3 and premium == 50 * 1024**3


@pytest.mark.parametrize(
    ("quota", "used", "expected"),
    [
        (100, 0, 100),
        (100, 40, 60),
        (100, 100, 0),
        (100, 150, 0),  # over quota (e.g. after the quota was lowered): never negative
        (None, 0, None),
        (None, 10**15, None),
    ],
)
def test_remaining(quota: int | None, used: int, expected: int | None) -> None:
    assert remaining(quota, used) == expected


@pytest.mark.parametrize(
    ("quota", "used", "expected"),
    [
        (100, 0, 0.0),
        (100, 25, 25.0),
        (300, 100, 33.33),
        (3, 2, 66.67),
        (100, 150, 150.0),
        (None, 12345, 0.0),
    ],
)
def test_usage_percent(quota: int | None, used: int, expected: float) -> None:
    assert usage_percent(quota, used) == expected
    assert isinstance(usage_percent(quota, used), float)


def test_usage_percent_of_a_real_quota(settings: Settings) -> None:
    quota = quota_for(Principal("u", Role.USER), settings)
    assert usage_percent(quota, 2 * MiB) == 25.0
    assert remaining(quota, 2 * MiB) == 6 * MiB

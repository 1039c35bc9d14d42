"""The devhost's parsing rules (no processes): host.json, settings, routes, schedules."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest

from devhost.blobs import BlobPath
from devhost.config import (
    HostConfig,
    QueueOptions,
    SettingNotFoundError,
    apply_host_environment,
    apply_local_settings,
    format_timespan,
    is_disabled,
    parse_timespan,
    resolve_settings,
)
from devhost.timers import schedule_iterator
from devhost.tokens import mint_token

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("text", "seconds"), [
    ("00:00:02", 2.0), ("00:10:00", 600.0), ("1.00:00:01", 86401.0), ("00:00:00.500", 0.5),
])
def test_timespans(text: str, seconds: float) -> None:
    assert parse_timespan(text) == seconds


def test_project_host_json_is_read() -> None:
    config = HostConfig.load(ROOT / "host.json")
    assert config.route_prefix == ""
    assert config.queues == QueueOptions(
        batch_size=8, new_batch_threshold=4, max_polling_interval=2.0, visibility_timeout=10.0,
        max_dequeue_count=5, message_encoding="base64",
    )
    assert config.function_timeout == 600.0


def test_host_defaults_are_the_real_hosts(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0"}))
    config = HostConfig.load(tmp_path / "host.json")
    assert config.route_prefix == "api"
    assert config.function_timeout == 30 * 60  # Flex Consumption's default
    assert config.queues.batch_size == 16
    assert config.queues.new_batch_threshold == 8
    assert config.queues.max_dequeue_count == 5


def test_function_timeout_minus_one_means_no_limit(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "functionTimeout": "-1"}))
    assert HostConfig.load(tmp_path / "host.json").function_timeout is None


@pytest.mark.parametrize(("seconds", "text"), [
    (600.0, "00:10:00"), (1.0, "00:00:01"), (86401.0, "1.00:00:01"), (0.5, "00:00:00.5000000"),
])
def test_timespans_are_written_as_the_host_logs_them(seconds: float, text: str) -> None:
    assert format_timespan(seconds) == text
    assert parse_timespan(text) == seconds


def test_the_app_runs_in_development_unless_told_otherwise() -> None:
    env: dict[str, str] = {}
    apply_host_environment(env)
    assert env == {"AZURE_FUNCTIONS_ENVIRONMENT": "Development"}
    staging = {"AZURE_FUNCTIONS_ENVIRONMENT": "Staging"}
    apply_host_environment(staging)
    assert staging == {"AZURE_FUNCTIONS_ENVIRONMENT": "Staging"}


def test_setting_expressions_resolve_or_fail_clearly() -> None:
    env = {"CONTAINER": "files", "Q": "work"}
    assert resolve_settings("%CONTAINER%/{name}", env) == "files/{name}"
    assert resolve_settings("%Q%", env) == "work"
    with pytest.raises(SettingNotFoundError, match="MISSING"):
        resolve_settings("%MISSING%", env)


def test_process_environment_wins_over_local_settings(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    settings = tmp_path / "local.settings.json"
    settings.write_text(json.dumps({"IsEncrypted": False, "Values": {
        "DEVHOST_TEST_A": "from-file", "DEVHOST_TEST_B": "from-file", "DEVHOST_TEST_C": True}}))
    monkeypatch.setenv("DEVHOST_TEST_A", "from-env")
    monkeypatch.delenv("DEVHOST_TEST_B", raising=False)
    monkeypatch.delenv("DEVHOST_TEST_C", raising=False)
    try:
        applied = apply_local_settings(settings)
        assert os.environ["DEVHOST_TEST_A"] == "from-env"
        assert os.environ["DEVHOST_TEST_B"] == "from-file"
        assert os.environ["DEVHOST_TEST_C"] == "true"
        assert set(applied) == {"DEVHOST_TEST_B", "DEVHOST_TEST_C"}
    finally:
        os.environ.pop("DEVHOST_TEST_B", None)
        os.environ.pop("DEVHOST_TEST_C", None)


def test_function_can_be_disabled_like_on_azure() -> None:
    assert is_disabled("tick", {"AzureWebJobs.tick.Disabled": "true"})
    assert is_disabled("tick", {"AzureWebJobs__tick__Disabled": "1"})
    assert not is_disabled("tick", {"AzureWebJobs.tock.Disabled": "true"})


def test_blob_paths_match_only_their_prefix() -> None:
    path = BlobPath.parse("files/incoming/{name}")
    assert (path.container, path.prefix) == ("files", "incoming/")
    assert path.matches("incoming/a/b.txt")
    assert not path.matches("other/a.txt")
    assert BlobPath.parse("files/{name}").matches("users/u1/x.bin")


def test_ncrontab_has_seconds_first() -> None:
    start = datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC)
    next_run = schedule_iterator("0 */5 * * * *", start)
    assert next_run() == datetime(2026, 1, 1, 0, 5, 0, tzinfo=UTC)
    assert next_run() == datetime(2026, 1, 1, 0, 10, 0, tzinfo=UTC)
    every_ten = schedule_iterator("*/10 * * * * *", start)
    assert every_ten() == datetime(2026, 1, 1, 0, 1, 40, tzinfo=UTC)


def test_timespan_schedules_and_bad_schedules() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert schedule_iterator("00:00:30", start)() == datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="6 fields"):
        schedule_iterator("*/5 * * * *", start)


def test_minted_token_claims() -> None:
    secret = "a-test-secret-that-is-32-bytes-long!"
    token = mint_token("user-1", "premium", secret, ttl=60, iss="issuer", aud="api")
    claims = jwt.decode(token, secret, algorithms=["HS256"], audience="api", issuer="issuer")
    assert claims["sub"] == "user-1"
    assert claims["role"] == "premium"
    assert claims["exp"] - claims["iat"] == 60
    assert jwt.get_unverified_header(token)["alg"] == "HS256"

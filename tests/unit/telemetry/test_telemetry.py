"""Telemetry: Azure Monitor is configured only with a connection string, with the managed
identity and without exporting logs twice; unset, the exporter is never imported. LOG_LEVEL
is the level of the app's loggers."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import azure.identity
import azure.monitor.opentelemetry
import pytest
from pydantic import ValidationError

from shared import telemetry
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
CONNECTION = ("InstrumentationKey=00000000-0000-0000-0000-000000000000;"
              "IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/")


class FakeManagedIdentity:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(telemetry, "_configured", {})
    monkeypatch.setattr(azure.monitor.opentelemetry, "configure_azure_monitor",
                        lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(azure.identity, "ManagedIdentityCredential", FakeManagedIdentity)
    for name in telemetry.APP_LOGGERS:  # restored after the test
        monkeypatch.setattr(logging.getLogger(name), "level", logging.getLogger(name).level)
    return calls


def test_with_a_connection_string_azure_monitor_uses_the_managed_identity(clean_env,
                                                                          configured):
    clean_env.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", CONNECTION)
    clean_env.setenv("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555")
    settings = Settings()
    assert telemetry.configure_telemetry(settings) is True
    assert telemetry.configure_telemetry(settings) is True  # once per process
    assert len(configured) == 1
    options = configured[0]
    assert options["connection_string"] == CONNECTION
    assert isinstance(options["credential"], FakeManagedIdentity)
    assert options["credential"].kwargs == {"client_id": "11111111-2222-3333-4444-555555555555"}
    assert options["disable_logging"] is True  # the host already sends the worker's logs


def test_without_a_connection_string_nothing_is_configured(clean_env, configured):
    assert telemetry.configure_telemetry(Settings()) is False
    assert configured == []


def test_log_level_sets_the_app_loggers(clean_env, configured):
    clean_env.setenv("LOG_LEVEL", "DEBUG")
    telemetry.configure_telemetry(Settings())
    assert logging.getLogger("shared.files").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("functions.http").getEffectiveLevel() == logging.DEBUG
    clean_env.setenv("LOG_LEVEL", "warning")
    telemetry.configure_telemetry(Settings())
    assert logging.getLogger("shared").level == logging.WARNING


def test_an_unknown_log_level_is_refused(clean_env):
    clean_env.setenv("LOG_LEVEL", "verbose")
    with pytest.raises(ValidationError, match="LOG_LEVEL"):
        Settings()


def test_importing_the_app_without_a_connection_string_loads_no_exporter():
    """The Functions worker imports function_app at start-up: locally and in tests it must
    not pull in OpenTelemetry's SDK or Azure Monitor's exporter."""
    env = {k: v for k, v in os.environ.items() if k != "APPLICATIONINSIGHTS_CONNECTION_STRING"}
    env["AZURE_FUNCTIONS_ENVIRONMENT"] = "Development"
    probe = ("import json, sys, function_app; print(json.dumps(sorted(m for m in sys.modules "
             "if m.startswith(('azure.monitor.opentelemetry', 'opentelemetry.sdk')))))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []

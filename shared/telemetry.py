"""Logging level and telemetry of the app, set up once per process by function_app.py.

- ``LOG_LEVEL`` (the spec's variable: debug, info, warning, error, critical) is the level of
  the app's own loggers (``shared.*``, ``functions.*``); the host's are host.json's.
- With ``APPLICATIONINSIGHTS_CONNECTION_STRING`` (Azure: main.bicep's Application Insights),
  azure-monitor-opentelemetry exports the app's traces (Azure SDK calls, outgoing HTTP) and
  metrics, authenticated with the managed identity (``AZURE_CLIENT_ID``): no instrumentation
  key is a secret here, the resource accepts Entra-authenticated telemetry only. Logs are not
  exported this way: the Functions host already sends the worker's logs to the same resource
  (exporting them twice would double every trace line). Unset, nothing is imported: local
  runs and tests never load the exporter.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.settings import Settings

log = logging.getLogger(__name__)

APP_LOGGERS = ("shared", "functions")
_configured: dict[str, Any] = {}


def apply_log_level(level: str) -> None:
    for name in APP_LOGGERS:
        logging.getLogger(name).setLevel(level.upper())


def azure_monitor_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of ``configure_azure_monitor``."""
    from azure.identity import ManagedIdentityCredential

    return {
        "connection_string": settings.applicationinsights_connection_string,
        "credential": ManagedIdentityCredential(client_id=settings.azure_client_id or None),
        "disable_logging": True,
        # Storage and Key Vault calls become dependencies (azure_sdk); the HTTP streaming
        # extension serves requests itself, and the host records each invocation.
        "instrumentation_options": {"django": {"enabled": False},
                                    "flask": {"enabled": False}},
    }


def configure_telemetry(settings: Settings) -> bool:
    """Apply LOG_LEVEL, and start Azure Monitor's exporters when a connection string is
    set (once per process). True when telemetry is exported."""
    apply_log_level(settings.log_level)
    if not settings.applicationinsights_connection_string:
        return False
    if not _configured:
        from azure.monitor.opentelemetry import configure_azure_monitor

        options = azure_monitor_options(settings)
        configure_azure_monitor(**options)
        _configured.update(options)
        log.info("telemetry exported to Application Insights (managed identity)")
    return True

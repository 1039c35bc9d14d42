"""The Functions app: builds ``app`` and registers one blueprint per resource."""

import azure.functions as func

from functions import (
    admin,
    backup,
    cdn,
    download,
    edge,
    files,
    health,
    maintenance,
    metadata,
    methods,
    openapi,
    resumable,
    transform,
    tus,
    upload,
)
from shared.settings import get_settings
from shared.telemetry import configure_telemetry

# Read the settings now: unsafe or invalid ones (JWT_JWKS_URL without JWT_ISSUER and
# JWT_AUDIENCE, the development JWT_SECRET outside Development...) stop the app from
# starting, with a message naming the setting, instead of failing request by request.
settings = get_settings()
# LOG_LEVEL, and Azure Monitor (OpenTelemetry, managed identity) only when
# APPLICATIONINSIGHTS_CONNECTION_STRING is set: nothing is imported for it otherwise.
configure_telemetry(settings)

# Every HTTP function requires the function key (functions/_http.py: KEYED says why).
app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

for blueprint in (health, upload, files, download, openapi, backup, maintenance, cdn, edge,
                  admin, resumable, tus, metadata, transform, methods):
    app.register_functions(blueprint.bp)

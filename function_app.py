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
    openapi,
    resumable,
    transform,
    tus,
    upload,
)
from shared.settings import get_settings

# Read the settings now: unsafe or invalid ones (JWT_JWKS_URL without JWT_ISSUER and
# JWT_AUDIENCE, the development JWT_SECRET outside Development...) stop the app from
# starting, with a message naming the setting, instead of failing request by request.
get_settings()

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for blueprint in (health, upload, files, download, openapi, backup, maintenance, cdn, edge,
                  admin, resumable, tus, metadata, transform):
    app.register_functions(blueprint.bp)

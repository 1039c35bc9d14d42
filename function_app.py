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
    openapi,
    upload,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for blueprint in (health, upload, files, download, openapi, backup, maintenance, cdn, edge,
                  admin):
    app.register_functions(blueprint.bp)

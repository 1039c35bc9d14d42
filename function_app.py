"""The Functions app: builds ``app`` and registers one blueprint per resource."""

import azure.functions as func

from functions import (
    backup,
    download,
    files,
    health,
    maintenance,
    openapi,
    resumable,
    tus,
    upload,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for blueprint in (health, upload, files, download, openapi, backup, maintenance, resumable,
                  tus):
    app.register_functions(blueprint.bp)

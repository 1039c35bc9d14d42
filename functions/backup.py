"""Backup: a blob landing in the files container is copied to the S3 backup store.

In Azure the trigger uses the Event Grid source (Flex Consumption has no polling blob
trigger); the SDK-type binding hands over a client, so the host never loads the blob.
"""

from __future__ import annotations

import logging

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob

from functions._context import app_context
from shared.backup import back_up

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.blob_trigger(arg_name="client", path="%AZURE_CONTAINER_NAME%/{name}",
                 connection="AzureWebJobsStorage", source=func.BlobSource.EVENT_GRID)
async def backup_new_blob(client: blob.BlobClient) -> None:
    state = await back_up(app_context(), client.blob_name)
    log.info("backup of %s: %s", client.blob_name, state)

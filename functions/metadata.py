"""Metadata extraction: a blob landing in the files container is described into
``file_metadata`` (and its ``auto_transform`` defaults queued). Event Grid source in Azure,
as for the backup (functions/backup.py)."""

from __future__ import annotations

import logging

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob

from functions._context import app_context
from shared.processing.extraction import extract_for_blob

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.blob_trigger(arg_name="client", path="%AZURE_CONTAINER_NAME%/{name}",
                 connection="AzureWebJobsStorage", source=func.BlobSource.EVENT_GRID)
async def extract_blob_metadata(client: blob.BlobClient) -> None:
    state = await extract_for_blob(app_context(), client.blob_name)
    log.info("metadata of %s: %s", client.blob_name, state)

"""GET /api/v1/openapi.json describes every HTTP function the app registers."""

from __future__ import annotations

import re

from functions.methods import FALLBACK_PREFIX


def test_document_covers_every_route(api, app_functions):
    response = api.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.1")
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    for name, function in app_functions.items():
        trigger = function.get_trigger().get_dict_repr()
        if trigger["type"] != "httpTrigger" or name.startswith(FALLBACK_PREFIX):
            continue  # the fallbacks only refuse (405, 404): no operation of the API
        path = "/" + re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", trigger["route"])
        for method in trigger["methods"]:
            method = str(getattr(method, "value", method)).lower()
            assert (path, method) in documented, (path, method)


def test_schemas_come_from_the_models(api):
    doc = api.get("/api/v1/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert {"UploadResponse", "FileListResponse", "ErrorResponse", "FileUpdate"} <= set(schemas)
    upload = doc["paths"]["/api/v1/storage/upload"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    sort = next(p for p in doc["paths"]["/api/v1/storage/files"]["get"]["parameters"]
                if p["name"] == "sort")
    assert "created_at" in str(sort["schema"])

"""What the deployment needs to know about this build of the app, read from the app itself.

    python infra/hooks/manifest.py functions              # each function and its bindings
    python infra/hooks/manifest.py postdeploy-parameters  # infra/bicep/postdeploy.bicep's

The second reads names from the environment (azd exports its environment to hooks): the
Event Grid subscriptions follow the blob triggers that function_app registers, and API
Management imports the OpenAPI document of this build. ``get_functions()`` may run once per
app, so each command is a process of its own.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
_SETTING = re.compile(r"%([A-Za-z0-9_]+)%")


def functions() -> list[dict[str, Any]]:
    """Each registered function: name and the dict form of every binding (trigger first)."""
    sys.path.insert(0, str(ROOT))
    import function_app

    return [
        {
            "name": function.get_function_name(),
            "bindings": [_plain(binding.get_dict_repr()) for binding in function.get_bindings()],
        }
        for function in function_app.app.get_functions()
    ]


def _plain(value: Any) -> Any:
    """Enum members (methods, auth levels) as their values, so the result is JSON."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return getattr(value, "value", value)


def trigger(function: dict[str, Any]) -> dict[str, Any]:
    return next(b for b in function["bindings"] if b["type"].endswith("Trigger"))


def resolve(expression: str, env: dict[str, str]) -> str:
    """``%NAME%`` binding expressions, as the host resolves them from app settings."""
    return _SETTING.sub(lambda m: env[m.group(1)], expression)


def blob_triggers(described: list[dict[str, Any]], env: dict[str, str]) -> list[dict[str, str]]:
    """Event Grid-sourced blob triggers: function, container and the path before ``{``."""
    found = []
    for function in described:
        bound = trigger(function)
        if bound["type"] != "blobTrigger" or bound.get("source") != "EventGrid":
            continue
        container, _, blob_path = resolve(bound["path"], env).partition("/")
        found.append({
            "functionName": function["name"],
            "containerName": container,
            "pathPrefix": blob_path.split("{", 1)[0],
        })
    return found


def postdeploy_parameters(described: list[dict[str, Any]], env: dict[str, str]) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from shared.openapi import document

    values: dict[str, Any] = {
        "functionAppName": env["AZURE_FUNCTION_APP_NAME"],
        "storageAccountName": env["AZURE_STORAGE_ACCOUNT"],
        "eventGridTopicName": env["AZURE_EVENTGRID_TOPIC_NAME"],
        "deadLetterContainerName": env["AZURE_EVENTGRID_DEADLETTER_CONTAINER"],
        "keyVaultName": env["AZURE_KEY_VAULT_NAME"],
        "apimName": env["AZURE_APIM_NAME"],
        "apimPrincipalId": env["AZURE_APIM_PRINCIPAL_ID"],
        "frontDoorId": env["AZURE_FRONT_DOOR_ID"],
        "blobTriggers": blob_triggers(described, env),
        "openApiDocument": json.dumps(document(), separators=(",", ":")),
        "jwtIssuer": env["JWT_ISSUER"],
        "jwtAudience": env["JWT_AUDIENCE"],
        "jwtOpenIdConfigUrl": env.get("JWT_OPENID_CONFIG_URL", ""),
        "callsPerUserPerMinute": int(env["API_CALLS_PER_USER_PER_MINUTE"]),
        "callsPerAnonymousIpPerMinute": int(env["API_CALLS_PER_ANONYMOUS_IP_PER_MINUTE"]),
    }
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {name: {"value": value} for name, value in values.items()},
    }


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "functions":
        print(json.dumps(functions(), indent=1))
    elif command == "postdeploy-parameters":
        print(json.dumps(postdeploy_parameters(functions(), dict(os.environ))))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

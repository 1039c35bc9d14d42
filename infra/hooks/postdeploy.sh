#!/usr/bin/env bash
# azd postdeploy: what needs the running app (infra/bicep/postdeploy.bicep): the Event Grid
# subscriptions of its blob triggers, the function key API Management presents, and the API
# imported from this build's OpenAPI document with its policies.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PYTHON:-.venv/bin/python}
rg=$AZURE_RESOURCE_GROUP
app=$AZURE_FUNCTION_APP_NAME

# The host writes the blob extension's key when it first starts with the new code.
for attempt in $(seq 1 30); do
  key=$(az functionapp keys list -g "$rg" -n "$app" --query "systemKeys.blobs_extension" -o tsv 2>/dev/null || true)
  [ -n "$key" ] && break
  [ "$attempt" = 30 ] && { echo "the blobs_extension key did not appear: is the app running?" >&2; exit 1; }
  sleep 10
done
unset key

# API Management's own key, made once (a random value the host generates); rotate it with
# `az functionapp keys set ... --key-name apim` and run this hook again.
if [ -z "$(az functionapp keys list -g "$rg" -n "$app" --query "functionKeys.apim" -o tsv)" ]; then
  az functionapp keys set -g "$rg" -n "$app" --key-type functionKeys --key-name apim -o none
fi

params=$(mktemp --suffix=.json)
trap 'rm -f "$params"' EXIT
"$PY" infra/hooks/manifest.py postdeploy-parameters > "$params"
az deployment group create -g "$rg" --name "postdeploy-$(date +%s)" \
  --template-file infra/bicep/postdeploy.bicep --parameters @"$params" -o none
echo "API: $API_BASE_URL   CDN: $CDN_BASE_URL"

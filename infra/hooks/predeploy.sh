#!/usr/bin/env bash
# azd predeploy: the numbered migrations (python -m shared.db.migrate), run as the deployer (the
# server's Entra administrator) before the new code serves, then the app identity's grants.
# The server takes Entra tokens only; this machine is let in for the duration of the run.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PYTHON:-.venv/bin/python}
rg=$AZURE_RESOURCE_GROUP
server=$AZURE_POSTGRES_SERVER_NAME
rule=deployer-migrations
ip=${DEPLOYER_IP:-$(curl -fsS https://api.ipify.org)}

az postgres flexible-server firewall-rule create -g "$rg" -n "$server" --rule-name "$rule" \
  --start-ip-address "$ip" --end-ip-address "$ip" -o none
trap 'az postgres flexible-server firewall-rule delete -g "$rg" -n "$server" --rule-name "$rule" --yes -o none' EXIT

# libpq reads the token from PGPASSWORD: it never appears in a command line.
PGPASSWORD=$(az account get-access-token --resource-type oss-rdbms --query accessToken -o tsv)
export PGPASSWORD
export DATABASE_URL="host=$AZURE_POSTGRES_HOST port=5432 dbname=$AZURE_POSTGRES_DATABASE user='$AZURE_PRINCIPAL_NAME' sslmode=require"
"$PY" -m shared.db.migrate
"$PY" infra/hooks/db_grants.py

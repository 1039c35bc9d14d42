#!/usr/bin/env bash
# azd preprovision: PostgreSQL's Entra administrator is the deployer, known to it by name; azd
# gives only the object id (AZURE_PRINCIPAL_ID), so the name is looked up once and kept.
set -euo pipefail

if [ -z "${AZURE_PRINCIPAL_NAME:-}" ]; then
  if name=$(az ad signed-in-user show --query userPrincipalName -o tsv 2>/dev/null) && [ -n "$name" ]; then
    type=User
  else  # signed in as a service principal (CI): PostgreSQL knows it by display name
    name=$(az ad sp show --id "$(az account show --query user.name -o tsv)" --query displayName -o tsv)
    type=ServicePrincipal
  fi
  azd env set AZURE_PRINCIPAL_NAME "$name"
  azd env set AZURE_PRINCIPAL_TYPE "$type"
fi

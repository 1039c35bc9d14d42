// Key Vault (RBAC, purge protection): the RSA key that wraps every file's data key, and the
// secrets the app reads through Key Vault references. The app identity may wrap and unwrap with
// the key (nothing else with it), and read secrets: every secret here is the app's own (AWS
// credentials, Redis URL, Cloudflare token, its own host key for APIM), and secrets set out of
// band after provisioning must be readable without a new grant, hence the vault scope.

param name string
param location string
param tags object
param skuName string
@allowed([ 'RSA', 'RSA-HSM' ])
param encryptionKeyType string
param encryptionKeyName string
param workspaceId string
param appPrincipalId string
@secure()
param awsAccessKeyId string
@secure()
param awsSecretAccessKey string
@secure()
param cloudflareApiToken string

var roles = loadJsonContent('roles.json')

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: the platform resolves Key Vault references from shared outbound addresses (no VNet on this plan), so the firewall cannot list them; RBAC grants per identity guard the vault.
  // checkov:skip=CKV_AZURE_189: same reason: public network access is how the function app and API Management reach the vault without a VNet.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: skuName }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: { bypass: 'AzureServices', defaultAction: 'Allow' }
  }
}

// Created once: ARM never makes a new version of an existing key, so a redeployment keeps the
// active version. Rotation is `az keyvault key rotate` then `azd provision` (README, Deploying).
resource wrappingKey 'Microsoft.KeyVault/vaults/keys@2023-07-01' = {
  // checkov:skip=CKV_AZURE_112: prod's profile (env/prod.json) makes it RSA-HSM in a premium vault; dev uses a software key.
  // checkov:skip=CKV_AZURE_40: each file's data key stays wrapped by the key version that wrapped it; an expiry date would make old files unreadable. Rotation makes new versions (README, Deploying).
  parent: vault
  name: encryptionKeyName
  properties: {
    kty: encryptionKeyType
    keySize: 3072
    keyOps: [ 'wrapKey', 'unwrapKey' ]
    attributes: { enabled: true }
  }
}

// Secrets given at provisioning are written; empty ones are left as they are, so they can be
// set out of band (`az keyvault secret set`) and never pass through azd's environment.
var givenSecrets = filter([
  { name: 'aws-access-key-id', value: awsAccessKeyId }
  { name: 'aws-secret-access-key', value: awsSecretAccessKey }
  { name: 'cloudflare-api-token', value: cloudflareApiToken }
], s => !empty(s.value))

resource secrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for secret in givenSecrets: {
  // checkov:skip=CKV_AZURE_41: these mirror credentials issued elsewhere (AWS, Cloudflare) whose lifetime their issuer sets; rotating them is writing a new version.
  parent: vault
  name: secret.name
  properties: {
    value: secret.value
    contentType: 'text/plain'
  }
}]

resource keyUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(wrappingKey.id, appPrincipalId, roles.keyVaultCryptoServiceEncryptionUser)
  scope: wrappingKey
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultCryptoServiceEncryptionUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit'
  scope: vault
  properties: {
    workspaceId: workspaceId
    logs: [ { categoryGroup: 'audit', enabled: true } ]
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
// Versioned: each file stores the id of the key version that wrapped its data key.
output encryptionKeyIdWithVersion string = wrappingKey.properties.keyUriWithVersion

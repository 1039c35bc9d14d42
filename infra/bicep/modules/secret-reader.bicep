// Grants one principal read access to one Key Vault secret (Key Vault Secrets User at the
// secret's scope), so no identity can read the vault's other secrets.

param vaultName string
param secretName string
param principalId string

var roles = loadJsonContent('roles.json')

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  name: '${vaultName}/${secretName}'
}

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(secret.id, principalId, roles.keyVaultSecretsUser)
  scope: secret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

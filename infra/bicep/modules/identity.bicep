// The function app's user-assigned identity: one principal for storage, Key Vault, PostgreSQL,
// Application Insights and Front Door, created before the app so every grant exists when it starts.

param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId

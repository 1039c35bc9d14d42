// API Management in front of the function app. The service is created here (it is slow to
// create); its API, backend and policies are imported after the code is deployed
// (../postdeploy.bicep), from the same OpenAPI document the app serves.
// rate-limit-by-key needs a tier other than Consumption (Developer, Basic, the v2 tiers).

param name string
param location string
param tags object
@allowed([ 'Developer', 'Basic', 'Standard', 'Premium', 'BasicV2', 'StandardV2' ])
param skuName string
param publisherEmail string
param publisherName string
param workspaceId string

resource service 'Microsoft.ApiManagement/service@2023-05-01-preview' = {
  // checkov:skip=CKV_AZURE_174: API Management is the API's public entry point; it must be reachable from the internet.
  // checkov:skip=CKV_AZURE_107: no virtual network on this deployment (Flex Consumption without VNet); the backend is called over TLS with a function key.
  name: name
  location: location
  tags: tags
  sku: { name: skuName, capacity: 1 }
  identity: { type: 'SystemAssigned' }
  properties: {
    publisherEmail: publisherEmail
    publisherName: publisherName
    publicNetworkAccess: 'Enabled'
    customProperties: {
      'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Protocols.Tls10': 'False'
      'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Protocols.Tls11': 'False'
      'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Backend.Protocols.Tls10': 'False'
      'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Backend.Protocols.Tls11': 'False'
      'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Backend.Protocols.Ssl30': 'False'
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'gateway'
  scope: service
  properties: {
    workspaceId: workspaceId
    logs: [ { category: 'GatewayLogs', enabled: true } ]
  }
}

output name string = service.name
output gatewayUrl string = service.properties.gatewayUrl
output gatewayHostName string = replace(service.properties.gatewayUrl, 'https://', '')
output principalId string = service.identity.principalId

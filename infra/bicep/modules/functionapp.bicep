// The Flex Consumption plan and function app (Python 3.11, Linux) running as the user-assigned
// identity: identity-based host storage, deployment package pulled with the identity, Key Vault
// references resolved with it. HTTP functions are reached through API Management only (function
// keys, see ../postdeploy.bicep); Event Grid reaches the blob extension with its system key.

param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param blobEndpoint string
param queueEndpoint string
param deploymentContainerName string
param applicationInsightsConnectionString string
param instanceMemoryMB int
param maximumInstanceCount int
@description('The app\'s own settings (main.bicep); the host\'s are added here.')
param appSettings object

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy on Flex Consumption requires always-ready instances, which cost at rest; this deployment scales from zero.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

// What the Functions host itself reads: storage through the identity (the blob trigger's
// "AzureWebJobsStorage" connection included), telemetry with Entra auth, and the Python worker's
// init indexing (without it the 3.11 worker starts no HTTP streaming server).
var hostSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: blobEndpoint
  AzureWebJobsStorage__queueServiceUri: queueEndpoint
  AzureWebJobsFeatureFlags: 'EnableWorkerIndexing'
  PYTHON_ENABLE_INIT_INDEXING: '1'
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // azure-identity's DefaultAzureCredential picks the user-assigned identity by this id.
  AZURE_CLIENT_ID: identityClientId
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: reached by API Management (function key required) and by Event Grid (blobs_extension key); without a VNet, public network access is how both get in.
  // checkov:skip=CKV_AZURE_17: callers authenticate with JWTs and API Management with a function key; client certificates are not the scheme.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero; a minimum of instances would cost at rest.
  // checkov:skip=CKV_AZURE_213: Flex Consumption has no App Service health check; GET /health probes every dependency for monitors.
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      remoteDebuggingEnabled: false
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: { name: 'python', version: '3.11' }
    }
  }
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: this is the app settings resource, not a network setting (see the app).
  // checkov:skip=CKV_AZURE_13: tokens are validated by API Management and by the app (JWT_JWKS_URL, JWT_ISSUER, JWT_AUDIENCE); App Service Authentication would turn away anonymous requests for public files.
  // checkov:skip=CKV_AZURE_63: no App Service web server logs on Flex Consumption; requests and traces go to Application Insights.
  // checkov:skip=CKV_AZURE_65: same: detailed error pages are an App Service web server feature; errors answer the spec's JSON body.
  // checkov:skip=CKV_AZURE_66: same: failed request tracing is an App Service web server feature; failures are in Application Insights.
  // checkov:skip=CKV_AZURE_80: Python app; there is no .NET Framework version.
  // checkov:skip=CKV_AZURE_88: the app stores nothing on a file share; files are in Blob storage.
  parent: app
  name: 'appsettings'
  properties: union(appSettings, hostSettings)
}

// Deployments authenticate with Entra (azd does); publishing user names and passwords are off.
resource noFtpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: { allow: false }
}

resource noScmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: { allow: false }
}

output name string = app.name
output id string = app.id
output defaultHostName string = app.properties.defaultHostName

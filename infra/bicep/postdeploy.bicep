// Run by the postdeploy hook (infra/hooks/postdeploy.sh) once the code is deployed, because it
// needs what only the running app has: the blob extension's system key (Event Grid
// subscriptions), the function key API Management calls the app with, and the OpenAPI
// document of this very build (imported into API Management). Resource-group scope.

@description('Names from the main deployment\'s outputs (azd environment).')
param functionAppName string
param storageAccountName string
param eventGridTopicName string
param deadLetterContainerName string
param keyVaultName string
param apimName string
param apimPrincipalId string

@description('Blob-triggered functions (Event Grid source): [{ functionName, containerName, pathPrefix }], listed from function_app by infra/hooks/manifest.py.')
param blobTriggers array

@description('The OpenAPI document the app serves (shared/openapi.py), as JSON text.')
param openApiDocument string

param jwtIssuer string
param jwtAudience string
@description('OpenID configuration of the token issuer; empty means <issuer>/.well-known/openid-configuration.')
param jwtOpenIdConfigUrl string = ''
param callsPerUserPerMinute int
param callsPerAnonymousIpPerMinute int
@description('Front Door\'s id (its X-Azure-FDID header): CDN misses are limited per client (X-Azure-ClientIP), not per Front Door edge address.')
param frontDoorId string

@description('Name of the function key API Management presents (created by the hook, rotated with `az functionapp keys set`).')
param functionKeyName string = 'apim'

var roles = loadJsonContent('modules/roles.json')

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: eventGridTopicName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource apim 'Microsoft.ApiManagement/service@2023-05-01-preview' existing = {
  name: apimName
}

var hostKeys = listKeys('${app.id}/host/default', '2024-04-01')
var webhookBase = 'https://${app.properties.defaultHostName}/runtime/webhooks/blobs'

// One subscription per blob trigger: BlobCreated under its container (and path prefix), one
// event per delivery, retried for a day, then dead-lettered by the topic's own identity.
resource blobSubscriptions 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = [for trigger in blobTriggers: {
  parent: topic
  name: take(replace('blob-${trigger.functionName}', '_', '-'), 64)
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: '${webhookBase}?functionName=Host.Functions.${trigger.functionName}&code=${hostKeys.systemKeys.blobs_extension}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [ 'Microsoft.Storage.BlobCreated' ]
      subjectBeginsWith: '/blobServices/default/containers/${trigger.containerName}/blobs/${trigger.pathPrefix}'
    }
    retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 }
    deadLetterWithResourceIdentity: {
      identity: { type: 'SystemAssigned' }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: { resourceId: account.id, blobContainerName: deadLetterContainerName }
      }
    }
  }
}]

// The function key, kept in Key Vault; API Management reads it as a named value (refreshed
// from the vault), so rotating it needs no change here.
resource functionKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: a copy of the function key, valid until the key is rotated with `az functionapp keys set`; an expiry here would cut API Management off without rotating anything.
  parent: vault
  name: 'function-key-${functionKeyName}'
  properties: {
    value: hostKeys.functionKeys[functionKeyName]
    contentType: 'text/plain'
  }
}

resource apimReadsFunctionKey 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(functionKey.id, apimPrincipalId, roles.keyVaultSecretsUser)
  scope: functionKey
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: apimPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionKeyValue 'Microsoft.ApiManagement/service/namedValues@2023-05-01-preview' = {
  parent: apim
  name: 'function-key'
  properties: {
    displayName: 'function-key'
    secret: true
    keyVault: { secretIdentifier: '${vault.properties.vaultUri}secrets/${functionKey.name}' }
  }
  dependsOn: [ apimReadsFunctionKey ]
}

resource backend 'Microsoft.ApiManagement/service/backends@2023-05-01-preview' = {
  parent: apim
  name: 'function-app'
  properties: {
    url: 'https://${app.properties.defaultHostName}'
    protocol: 'http'
    resourceId: '${environment().resourceManager}${substring(app.id, 1)}'
    credentials: { header: { 'x-functions-key': [ '{{function-key}}' ] } }
    tls: { validateCertificateChain: true, validateCertificateName: true }
  }
  dependsOn: [ functionKeyValue ]
}

resource specError 'Microsoft.ApiManagement/service/policyFragments@2023-05-01-preview' = {
  parent: apim
  name: 'spec-error'
  properties: {
    description: 'The spec\'s error body for errors made by the gateway.'
    format: 'xml'
    value: loadTextContent('apim/spec-error.xml')
  }
}

resource api 'Microsoft.ApiManagement/service/apis@2023-05-01-preview' = {
  parent: apim
  name: 'storage'
  properties: {
    displayName: 'Support Storage Service'
    path: ''
    protocols: [ 'https' ]
    subscriptionRequired: false
    apiType: 'http'
    format: 'openapi+json'
    value: openApiDocument
  }
}

var openIdConfigUrl = empty(jwtOpenIdConfigUrl) ? '${jwtIssuer}/.well-known/openid-configuration' : jwtOpenIdConfigUrl
// Values go into XML text: escaped, so that a '&' in a URL cannot break the policy.
var openIdConfigXml = replace(replace(replace(openIdConfigUrl, '&', '&amp;'), '<', '&lt;'), '"', '&quot;')
var audienceXml = replace(replace(replace(jwtAudience, '&', '&amp;'), '<', '&lt;'), '"', '&quot;')
var issuerXml = replace(replace(replace(jwtIssuer, '&', '&amp;'), '<', '&lt;'), '"', '&quot;')
var policyTemplate = loadTextContent('apim/api-policy.xml')
var policy = replace(replace(replace(replace(replace(replace(policyTemplate,
  '__OPENID_CONFIG_URL__', openIdConfigXml),
  '__AUDIENCE__', audienceXml),
  '__ISSUER__', issuerXml),
  '__CALLS_PER_USER__', string(callsPerUserPerMinute)),
  '__CALLS_PER_IP__', string(callsPerAnonymousIpPerMinute)),
  '__FRONT_DOOR_ID__', replace(replace(replace(frontDoorId, '&', '&amp;'), '<', '&lt;'), '"', '&quot;'))

resource apiPolicy 'Microsoft.ApiManagement/service/apis/policies@2023-05-01-preview' = {
  parent: api
  name: 'policy'
  properties: { format: 'xml', value: policy }
  dependsOn: [ backend, specError ]
}

output subscribedFunctions array = [for (trigger, i) in blobTriggers: blobSubscriptions[i].name]

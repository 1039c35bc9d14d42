// Front Door Standard: the CDN of public files. The origin is API Management (the app takes
// traffic only from it); the origin's Cache-Control wins (private files are never cached) and
// CDN_CACHE_TTL applies when the origin sends none. The app purges the endpoint (a custom role
// with the purge action only) and reads the access logs of this profile (resource-context
// queries: Monitoring Reader on the profile, not on the whole workspace).

param profileName string
param endpointName string
param tags object
param originHostName string
@description('Path patterns served through the CDN (the URL shape of shared/files/urls.py).')
param patternsToMatch array
@description('Prefix added in front of the path at the origin ("" keeps it).')
param originPath string
param cacheTtlSeconds int
param workspaceId string
param appPrincipalId string

var roles = loadJsonContent('roles.json')

resource profile 'Microsoft.Cdn/profiles@2024-02-01' = {
  name: profileName
  location: 'global'
  tags: tags
  sku: { name: 'Standard_AzureFrontDoor' }
  properties: { originResponseTimeoutSeconds: 60 }
}

resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2024-02-01' = {
  parent: profile
  name: endpointName
  location: 'global'
  tags: tags
  properties: { enabledState: 'Enabled' }
}

// One origin: no health probes (they would call the origin from every edge for nothing).
resource originGroup 'Microsoft.Cdn/profiles/originGroups@2024-02-01' = {
  parent: profile
  name: 'api-management'
  properties: {
    loadBalancingSettings: { sampleSize: 4, successfulSamplesRequired: 3, additionalLatencyInMilliseconds: 50 }
    sessionAffinityState: 'Disabled'
  }
}

resource origin 'Microsoft.Cdn/profiles/originGroups/origins@2024-02-01' = {
  parent: originGroup
  name: 'gateway'
  properties: {
    hostName: originHostName
    originHostHeader: originHostName
    httpPort: 80
    httpsPort: 443
    priority: 1
    weight: 1000
    enabledState: 'Enabled'
    enforceCertificateNameCheck: true
  }
}

var ttlDays = cacheTtlSeconds / 86400
var ttlHours = (cacheTtlSeconds % 86400) / 3600
var ttlMinutes = (cacheTtlSeconds % 3600) / 60
var ttlSeconds = cacheTtlSeconds % 60
var cacheDuration = '${ttlDays}.${padLeft(string(ttlHours), 2, '0')}:${padLeft(string(ttlMinutes), 2, '0')}:${padLeft(string(ttlSeconds), 2, '0')}'

resource ruleSet 'Microsoft.Cdn/profiles/ruleSets@2024-02-01' = {
  parent: profile
  name: 'caching'
}

resource defaultTtl 'Microsoft.Cdn/profiles/ruleSets/rules@2024-02-01' = {
  parent: ruleSet
  name: 'defaultTtl'
  properties: {
    order: 1
    conditions: []
    actions: [
      {
        name: 'RouteConfigurationOverride'
        parameters: {
          typeName: 'DeliveryRuleRouteConfigurationOverrideActionParameters'
          cacheConfiguration: {
            queryStringCachingBehavior: 'IgnoreQueryString'
            cacheBehavior: 'OverrideIfOriginMissing'
            cacheDuration: cacheDuration
            isCompressionEnabled: 'Disabled'
          }
        }
      }
    ]
    matchProcessingBehavior: 'Continue'
  }
}

resource route 'Microsoft.Cdn/profiles/afdEndpoints/routes@2024-02-01' = {
  parent: endpoint
  name: 'public-files'
  properties: {
    originGroup: { id: originGroup.id }
    originPath: empty(originPath) ? null : originPath
    ruleSets: [ { id: ruleSet.id } ]
    supportedProtocols: [ 'Http', 'Https' ]
    httpsRedirect: 'Enabled'
    forwardingProtocol: 'HttpsOnly'
    patternsToMatch: patternsToMatch
    linkToDefaultDomain: 'Enabled'
    cacheConfiguration: {
      queryStringCachingBehavior: 'IgnoreQueryString'
      compressionSettings: { isCompressionEnabled: false, contentTypesToCompress: [] }
    }
  }
  dependsOn: [ origin, defaultTtl ]
}

resource accessLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'access-logs'
  scope: profile
  properties: {
    workspaceId: workspaceId
    logs: [ { category: 'FrontDoorAccessLog', enabled: true } ]
  }
}

resource purger 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'front-door-cache-purger')
  properties: {
    roleName: 'Front Door cache purger (${resourceGroup().name})'
    description: 'Purges cached paths of Front Door endpoints; nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Cdn/profiles/read'
          'Microsoft.Cdn/profiles/afdendpoints/read'
          'Microsoft.Cdn/profiles/afdendpoints/purge/action'
        ]
        notActions: []
      }
    ]
    assignableScopes: [ resourceGroup().id ]
  }
}

resource appPurges 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(profile.id, appPrincipalId, purger.id)
  scope: profile
  properties: {
    roleDefinitionId: purger.id
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appReadsLogs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(profile.id, appPrincipalId, roles.monitoringReader)
  scope: profile
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringReader)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output profileId string = profile.id
// Sent to the origin as X-Azure-FDID: API Management tells this profile's requests by it.
output frontDoorId string = profile.properties.frontDoorId
output endpointName string = endpoint.name
output endpointHostName string = endpoint.properties.hostName

// The whole Support Storage Service on Azure (`azd up`; README, "Deploying"). Sizing comes from
// env/<environmentType>.json. What needs the deployed code (Event Grid subscriptions with the
// blob extension key, the API imported into API Management with its policies) is in
// postdeploy.bicep, run by the postdeploy hook. No secret is an app setting: secrets are Key
// Vault references resolved with the app's identity, everything else uses Entra identities.

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; it seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of every regional resource (one where Flex Consumption is offered).')
param location string

@allowed([ 'dev', 'prod' ])
param environmentType string = 'dev'

param resourceGroupName string = ''

@description('The deployer (azd sets AZURE_PRINCIPAL_ID): Entra administrator of PostgreSQL, who runs the migrations.')
param principalId string

@description('The deployer\'s user principal name (or a service principal\'s display name), as PostgreSQL knows the administrator.')
param principalName string

@allowed([ 'User', 'Group', 'ServicePrincipal' ])
param principalType string = 'User'

@minLength(1)
@description('Identity provider of the tokens (RS256/ES256): JWKS, issuer and audience; all three are required and checked.')
param jwtJwksUrl string
@minLength(1)
param jwtIssuer string
@minLength(1)
param jwtAudience string

@minLength(3)
param apimPublisherEmail string
param apimPublisherName string = 'Visiobook'

param awsS3Bucket string = 'visiobook-backup'
param awsRegion string = 'eu-west-1'
@secure()
@description('Written to Key Vault when given; leave empty to set the secret out of band.')
param awsAccessKeyId string = ''
@secure()
param awsSecretAccessKey string = ''
param backupEnabled bool = true

@description('Optional second CDN (Cloudflare): zone id, and its API token (Key Vault).')
param cloudflareZoneId string = ''
@secure()
param cloudflareApiToken string = ''

@description('Seconds the CDN keeps a public file when the origin sends no Cache-Control (a string: azd passes strings).')
param cdnCacheTtl string = '86400'

@description('Comma-separated versioned key URLs retired by a rotation, still needed to read older files.')
param encryptionPreviousKeyVaultKeyIds string = ''

@description('Further app settings (tuning: MAX_FILE_SIZE, quotas, ...); they win over the defaults below.')
param extraAppSettings object = {}

var sizing = {
  dev: loadJsonContent('env/dev.json')
  prod: loadJsonContent('env/prod.json')
}[environmentType]
var token = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName, environment: environmentType }

var filesContainerName = 'visiobook-files'
var deploymentContainerName = 'app-package'
var deadLetterContainerName = 'eventgrid-deadletter'
var transformQueueName = 'transformations'
var cdnPurgeQueueName = 'cdn-purge'  // shared/files/edge.py: CDN_PURGE_QUEUE
var databaseName = 'visiobook'
var encryptionKeyName = 'data-key-wrap'
var redisSecretName = 'redis-url'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: { name: 'id-func-${token}', location: location, tags: tags }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${token}'
    applicationInsightsName: 'appi-${token}'
    location: location
    tags: tags
    retentionDays: sizing.logRetentionDays
    appPrincipalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${token}'
    location: location
    tags: tags
    skuName: sizing.storageSku
    filesContainerName: filesContainerName
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
    queueNames: [ transformQueueName, '${transformQueueName}-poison', cdnPurgeQueueName, '${cdnPurgeQueueName}-poison' ]
    blobSoftDeleteDays: sizing.blobSoftDeleteDays
    previousVersionRetentionDays: sizing.previousVersionRetentionDays
    workspaceId: monitoring.outputs.workspaceId
    appPrincipalId: identity.outputs.principalId
  }
}

module eventGrid 'modules/eventgrid.bicep' = {
  name: 'eventgrid'
  scope: rg
  params: {
    name: 'evgt-${token}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    deadLetterContainerName: deadLetterContainerName
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-${token}'
    location: location
    tags: tags
    skuName: sizing.keyVaultSku
    encryptionKeyType: sizing.encryptionKeyType
    encryptionKeyName: encryptionKeyName
    workspaceId: monitoring.outputs.workspaceId
    appPrincipalId: identity.outputs.principalId
    awsAccessKeyId: awsAccessKeyId
    awsSecretAccessKey: awsSecretAccessKey
    cloudflareApiToken: cloudflareApiToken
  }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  scope: rg
  params: {
    name: 'psql-${token}'
    location: location
    tags: tags
    databaseName: databaseName
    skuName: sizing.postgresSkuName
    tier: sizing.postgresTier
    storageGB: sizing.postgresStorageGB
    backupRetentionDays: sizing.postgresBackupRetentionDays
    highAvailability: sizing.postgresHighAvailability
    adminObjectId: principalId
    adminName: principalName
    adminType: principalType
    extensions: [ 'PG_TRGM', 'UNACCENT' ]
    workspaceId: monitoring.outputs.workspaceId
  }
}

module redis 'modules/redis.bicep' = {
  name: 'redis'
  scope: rg
  params: {
    name: 'redis-${token}'
    location: location
    tags: tags
    sku: sizing.redisSku
    vaultName: keyVault.outputs.name
    secretName: redisSecretName
  }
}

module apim 'modules/apim.bicep' = {
  name: 'apim'
  scope: rg
  params: {
    name: 'apim-${token}'
    location: location
    tags: tags
    skuName: sizing.apimSku
    publisherEmail: apimPublisherEmail
    publisherName: apimPublisherName
    workspaceId: monitoring.outputs.workspaceId
  }
}

module frontDoor 'modules/frontdoor.bicep' = {
  name: 'frontdoor'
  scope: rg
  params: {
    profileName: 'afd-${token}'
    endpointName: 'files-${token}'
    tags: tags
    originHostName: apim.outputs.gatewayHostName
    patternsToMatch: [ '/files/*', '/thumbnails/*', '/previews/*' ]
    originPath: ''
    cacheTtlSeconds: int(cdnCacheTtl)
    workspaceId: monitoring.outputs.workspaceId
    appPrincipalId: identity.outputs.principalId
  }
}

var vaultName = keyVault.outputs.name

// Everything the app's code reads (tests/deploy/test_settings_coverage.py holds the code to
// this list; the host's own settings are added in modules/functionapp.bicep).
var appSettings = {
  AZURE_STORAGE_ACCOUNT: storage.outputs.name
  AZURE_CONTAINER_NAME: filesContainerName
  TRANSFORM_QUEUE_NAME: transformQueueName
  DATABASE_URL: 'postgresql://${identity.outputs.name}@${postgres.outputs.host}:5432/${databaseName}?sslmode=require'
  DATABASE_ENTRA_AUTH: 'true'
  AWS_S3_BUCKET: awsS3Bucket
  AWS_REGION: awsRegion
  AWS_ACCESS_KEY_ID: '@Microsoft.KeyVault(VaultName=${vaultName};SecretName=aws-access-key-id)'
  AWS_SECRET_ACCESS_KEY: '@Microsoft.KeyVault(VaultName=${vaultName};SecretName=aws-secret-access-key)'
  BACKUP_ENABLED: string(backupEnabled)
  JWT_JWKS_URL: jwtJwksUrl
  JWT_ISSUER: jwtIssuer
  JWT_AUDIENCE: jwtAudience
  ENCRYPTION_KEY_VAULT_KEY_ID: keyVault.outputs.encryptionKeyIdWithVersion
  ENCRYPTION_PREVIOUS_KEY_VAULT_KEY_IDS: encryptionPreviousKeyVaultKeyIds
  ENCRYPTION_REQUIRED: 'true'
  REDIS_URL: '@Microsoft.KeyVault(VaultName=${vaultName};SecretName=${redisSecretName})'
  PUBLIC_BASE_URL: apim.outputs.gatewayUrl
  AZURE_CDN_ENDPOINT: 'https://${frontDoor.outputs.endpointHostName}'
  CDN_CACHE_TTL: cdnCacheTtl
  AZURE_FRONT_DOOR_PROFILE_ID: frontDoor.outputs.profileId
  AZURE_FRONT_DOOR_ENDPOINT_NAME: frontDoor.outputs.endpointName
  CLOUDFLARE_ZONE_ID: cloudflareZoneId
  CLOUDFLARE_API_TOKEN: empty(cloudflareZoneId) ? '' : '@Microsoft.KeyVault(VaultName=${vaultName};SecretName=cloudflare-api-token)'
  LIFECYCLE_SCHEDULE: '0 */5 * * * *'
  LOG_LEVEL: 'info'
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: 'func-${token}'
    planName: 'plan-${token}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    instanceMemoryMB: sizing.functionInstanceMemoryMB
    maximumInstanceCount: sizing.functionMaximumInstanceCount
    appSettings: union(appSettings, extraAppSettings)
  }
  dependsOn: [ redis ]
}

// azd keeps these in the environment; the hooks (infra/hooks) read them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_APP_IDENTITY_NAME string = identity.outputs.name
output AZURE_APP_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_STORAGE_ACCOUNT string = storage.outputs.name
output AZURE_CONTAINER_NAME string = filesContainerName
output AZURE_EVENTGRID_TOPIC_NAME string = eventGrid.outputs.name
output AZURE_EVENTGRID_DEADLETTER_CONTAINER string = deadLetterContainerName
output AZURE_KEY_VAULT_NAME string = vaultName
output AZURE_POSTGRES_SERVER_NAME string = postgres.outputs.name
output AZURE_POSTGRES_HOST string = postgres.outputs.host
output AZURE_POSTGRES_DATABASE string = databaseName
output AZURE_APIM_NAME string = apim.outputs.name
output AZURE_APIM_PRINCIPAL_ID string = apim.outputs.principalId
output AZURE_FRONT_DOOR_ID string = frontDoor.outputs.frontDoorId
output API_CALLS_PER_USER_PER_MINUTE int = sizing.apiCallsPerUserPerMinute
output API_CALLS_PER_ANONYMOUS_IP_PER_MINUTE int = sizing.apiCallsPerAnonymousIpPerMinute
output API_BASE_URL string = apim.outputs.gatewayUrl
output CDN_BASE_URL string = 'https://${frontDoor.outputs.endpointHostName}'
output JWT_ISSUER string = jwtIssuer
output JWT_AUDIENCE string = jwtAudience

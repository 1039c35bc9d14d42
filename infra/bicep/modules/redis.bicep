// Azure Cache for Redis (TLS only) for the limits shared by all instances. The app reads
// REDIS_URL through a Key Vault reference: the access key lives in the vault, never in the
// app's settings.

param name string
param location string
param tags object
param sku object
param vaultName string
param secretName string

resource cache 'Microsoft.Cache/redis@2024-03-01' = {
  // checkov:skip=CKV_AZURE_89: the app on Flex Consumption without a virtual network reaches Redis over its public endpoint; TLS 1.2 only, the key is in Key Vault. Private endpoints come with a VNet.
  name: name
  location: location
  tags: tags
  properties: {
    sku: sku
    enableNonSslPort: false
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    redisVersion: '6'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource redisUrl 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: the URL carries the cache's access key, whose lifetime is the cache's; an expiry here would break the app without rotating the key.
  parent: vault
  name: secretName
  properties: {
    value: 'rediss://:${cache.listKeys().primaryKey}@${cache.properties.hostName}:${cache.properties.sslPort}/0'
    contentType: 'text/uri-list'
  }
}

output hostName string = cache.properties.hostName

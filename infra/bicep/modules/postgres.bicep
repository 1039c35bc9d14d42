// Azure Database for PostgreSQL Flexible Server with Entra authentication only (no password
// exists). The deployer is the Entra administrator: the predeploy hook (infra/hooks) runs the
// migrations as them and makes the app identity a plain role with DML rights, not an admin.

param name string
param location string
param tags object
param databaseName string
param skuName string
param tier string
param storageGB int
param backupRetentionDays int
param highAvailability string
param version string = '16'
@description('Object id, name (UPN or display name) and kind of the deployer, the Entra administrator.')
param adminObjectId string
param adminName string
@allowed([ 'User', 'Group', 'ServicePrincipal' ])
param adminType string
@description('Extensions the migrations create; Azure refuses any CREATE EXTENSION not listed here.')
param extensions array
param workspaceId string

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: skuName, tier: tier }
  properties: {
    version: version
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: subscription().tenantId
    }
    storage: { storageSizeGB: storageGB, autoGrow: 'Enabled' }
    backup: { backupRetentionDays: backupRetentionDays, geoRedundantBackup: tier == 'Burstable' ? 'Disabled' : 'Enabled' }
    highAvailability: { mode: highAvailability }
    network: { publicNetworkAccess: 'Enabled' }
  }
}

resource admin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: server
  name: adminObjectId
  properties: {
    principalName: adminName
    principalType: adminType
    tenantId: subscription().tenantId
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: { charset: 'UTF8', collation: 'en_US.utf8' }
}

// Flex Consumption without a virtual network leaves from shared Azure addresses: only "Azure
// services" can be allowed; every login still needs an Entra token of a known role.
resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }
}

// Server parameters are applied one at a time (the service refuses concurrent updates).
resource allowedExtensions 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'azure.extensions'
  properties: { value: join(extensions, ','), source: 'user-override' }
  dependsOn: [ database, admin ]
}

resource logConnections 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'log_connections'
  properties: { value: 'on', source: 'user-override' }
  dependsOn: [ allowedExtensions ]
}

resource logDisconnections 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'log_disconnections'
  properties: { value: 'on', source: 'user-override' }
  dependsOn: [ logConnections ]
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit'
  scope: server
  properties: {
    workspaceId: workspaceId
    logs: [ { categoryGroup: 'audit', enabled: true } ]
  }
}

output name string = server.name
output host string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name

// Data-plane roles of the app's identity (and, optionally, of the deploying user for tests):
// blobs (runtime, timers, Durable leases, deployment packages), queues (the increments queues and
// Durable's control and work-item queues), tables (the Counters snapshot and Durable's history and
// instances), and telemetry ingestion with Entra ID.
@description('Name of the existing storage account the data roles are scoped to.')
param storageAccountName string
@description('Name of the existing Application Insights component the telemetry role is scoped to.')
param applicationInsightsName string
@description('Object id of the app\'s user-assigned identity (a service principal).')
param managedIdentityPrincipalId string
@description('Object id of a user to grant the same data roles; empty for none.')
param userPrincipalId string = ''

// Built-in role definition ids.
@description('Storage Blob Data Owner.')
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
@description('Storage Queue Data Contributor.')
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
@description('Storage Table Data Contributor.')
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
@description('Monitoring Metrics Publisher (telemetry ingestion with Entra ID).')
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

@description('The data roles on the storage account: blobs, queues, tables.')
var storageRoles = [
  storageBlobDataOwner
  storageQueueDataContributor
  storageTableDataContributor
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource identityStorageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in storageRoles: {
  name: guid(storage.id, managedIdentityPrincipalId, role)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

resource identityMonitoringRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, managedIdentityPrincipalId, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource userStorageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in storageRoles: if (!empty(userPrincipalId)) {
  name: guid(storage.id, userPrincipalId, role)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: userPrincipalId
    principalType: 'User'
  }
}]

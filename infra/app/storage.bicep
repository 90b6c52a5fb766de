// The Function App's storage account: runtime state, Durable task hub, deployment packages, the
// increments queue with its poison queue, and the app's two tables named after its task hub
// ({taskHubName}Counters, the snapshot; {taskHubName}Accepted, the accepted plain adds). A second app or
// slot on this account needs its own task hub name: Durable's queues and tables, and these two tables, are
// then its own; the increments queues are the account's and would be shared (give it its own account). Shared-key access is
// off: every client (runtime, Durable, snapshot, deployment) signs in with Entra ID.
@description('Name of the storage account (3-24 lowercase letters and digits).')
param name string
@description('Region of the storage account.')
param location string
@description('Tags of every resource (azd-env-name).')
param tags resourceInput<'Microsoft.Storage/storageAccounts@2023-05-01'>.tags = {}
@description('Blob container that holds the Function App\'s deployment packages.')
param deploymentContainerName string
@description('Durable task hub of the app (app setting TaskHubName); its tables are named after it.')
@minLength(3)
@maxLength(45)
param taskHubName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    dnsEndpointType: 'Standard'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }

  resource blobServices 'blobServices' = {
    name: 'default'

    resource deploymentContainer 'containers' = {
      name: deploymentContainerName
    }
  }

  resource queueServices 'queueServices' = {
    name: 'default'

    resource increments 'queues' = {
      name: 'counter-increments'
    }

    resource incrementsPoison 'queues' = {
      name: 'counter-increments-poison'
    }
  }

  resource tableServices 'tableServices' = {
    name: 'default'

    resource counters 'tables' = {
      name: '${taskHubName}Counters'
    }

    resource accepted 'tables' = {
      name: '${taskHubName}Accepted'
    }
  }
}

@description('Name of the storage account.')
output name string = storage.name
@description('Resource id of the storage account.')
output id string = storage.id

// The Flex Consumption plan (FC1) and the Function App: .NET 10 isolated worker, deployment
// packages in a blob container reached with the user-assigned identity, identity-based
// AzureWebJobsStorage (no keys), Application Insights with Entra ID ingestion.
@description('Name of the Function App.')
param name string
@description('Name of the Flex Consumption (FC1) plan.')
param planName string
@description('Region of the plan and the app.')
param location string
@description('Tags of every resource (azd-env-name).')
param tags resourceInput<'Microsoft.Web/sites@2024-04-01'>.tags = {}
@description('Resource id of the user-assigned identity the app runs as.')
param identityId string
@description('Client id of that identity (AzureWebJobsStorage__clientId, telemetry authentication).')
param identityClientId string
@description('Name of the existing storage account (host storage and deployment packages).')
param storageAccountName string
@description('Blob container of the deployment packages in that account.')
param deploymentContainerName string
@description('Name of the existing Application Insights component.')
param applicationInsightsName string
@description('Upper bound of Flex Consumption instances.')
param maximumInstanceCount int = 100
@description('Memory of each Flex Consumption instance, in MB.')
param instanceMemoryMB int = 2048
@description('Extra app settings (SnapshotSchedule, TaskHubName, ...).')
param appSettings resourceInput<'Microsoft.Web/sites/config@2024-04-01'>.properties = {}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'dotnet-isolated'
        version: '10.0'
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: union(appSettings, {
      // Identity-based host storage: the runtime, Durable Functions, the queue trigger and the
      // snapshot's table client all read these (StorageClients.cs for the latter).
      AzureWebJobsStorage__accountName: storage.name
      AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
      AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
      AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
      APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    })
  }
}

@description('Name of the Function App.')
output name string = functionApp.name
@description('HTTPS base URL of the app (its default host name), without a path.')
output uri string = 'https://${functionApp.properties.defaultHostName}'

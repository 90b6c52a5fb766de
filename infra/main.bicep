// FuncMap on Azure: the Functions app (Flex Consumption, .NET 10 isolated worker, Durable Entities)
// with its storage account (identity-based access only), the increments queue, its poison queue,
// the task hub's Counters and Accepted tables, a user-assigned identity and Application Insights on Log Analytics.
// Deployed by `azd up` (azure.yaml at the repository root); layout after
// Azure-Samples/functions-quickstart-dotnet-azd, with plain resource declarations.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used to derive a unique token for resource names.')
param environmentName string

@minLength(1)
@description('Region of every resource. It must offer the Flex Consumption plan.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the deploying user; gets data access to the storage account for tests and debugging. Empty: none.')
param principalId string = ''

@description('NCRONTAB schedule of the snapshot timer (app setting SnapshotSchedule).')
param snapshotSchedule string = '0 */1 * * * *'

@description('Durable Functions task hub name (app setting TaskHubName); the app\'s tables are named after it ({taskHubName}Counters, {taskHubName}Accepted).')
@minLength(3)
@maxLength(45)
param taskHubName string = 'FuncMap'

@description('Upper bound of Flex Consumption instances.')
param maximumInstanceCount int = 100

@allowed([512, 2048, 4096])
@description('Memory of each Flex Consumption instance, in MB.')
param instanceMemoryMB int = 2048

@description('Unique, stable token of this subscription, environment and region; suffix of every resource name.')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
@description('Tags of every resource: azd finds its environment\'s resources by azd-env-name.')
var tags = { 'azd-env-name': environmentName }
@description('Name of the Function App.')
var functionAppName = 'func-api-${resourceToken}'
@description('Blob container of the app\'s deployment packages (at most 63 characters).')
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'
@description('Name of the storage account; known before deployment so that What-If can resolve the role assignments and the app.')
var storageAccountName = 'st${resourceToken}'
@description('Name of the Application Insights component; known before deployment, as storageAccountName.')
var applicationInsightsName = 'appi-${resourceToken}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-api-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: applicationInsightsName
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: storageAccountName
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    taskHubName: taskHubName
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storageAccountName
    applicationInsightsName: applicationInsightsName
    // The identity's object id exists only once the identity does, and it is part of the role
    // assignments' names (guid): What-If cannot predict those, whatever is passed here.
    #disable-next-line what-if-short-circuiting
    managedIdentityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
  // The roles are scoped to the account and the component: both must exist first (the names are
  // passed as values, not read from the modules' outputs).
  dependsOn: [
    storage
    monitoring
  ]
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storageAccountName
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: applicationInsightsName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appSettings: {
      SnapshotSchedule: snapshotSchedule
      TaskHubName: taskHubName
    }
  }
  // The app's first start needs its data roles in place (the host reaches storage at once); the
  // account (with the deployment container) and the component must exist before the app reads them.
  dependsOn: [
    storage
    monitoring
    rbac
  ]
}

@description('Region of the deployment (azd).')
output AZURE_LOCATION string = location
@description('Tenant of the subscription (azd).')
output AZURE_TENANT_ID string = tenant().tenantId
@description('Resource group of every resource (azd).')
output AZURE_RESOURCE_GROUP string = rg.name
@description('Name of the Function App.')
output AZURE_FUNCTION_NAME string = api.outputs.name
@description('Name of the app azd deploys the api service to.')
output SERVICE_API_NAME string = api.outputs.name
@description('HTTPS base URL of the api service (azd).')
output SERVICE_API_URI string = api.outputs.uri
@description('Name of the storage account.')
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
@description('Base URL of the HTTP contract, for the contract tests (FUNCMAP_BASE_URL).')
output FUNCMAP_BASE_URL string = '${api.outputs.uri}/api'

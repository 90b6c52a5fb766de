// The user-assigned identity the Function App uses for storage, deployment and telemetry.
@description('Name of the user-assigned identity.')
param name string
@description('Region of the identity.')
param location string
@description('Tags of every resource (azd-env-name).')
param tags resourceInput<'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31'>.tags = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

@description('Resource id of the identity.')
output id string = identity.id
@description('Client (application) id of the identity, for AzureWebJobsStorage__clientId and telemetry.')
output clientId string = identity.properties.clientId
@description('Object id of the identity\'s service principal, for its role assignments.')
output principalId string = identity.properties.principalId

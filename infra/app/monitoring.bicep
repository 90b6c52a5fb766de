// Log Analytics and workspace-based Application Insights. Local (key) authentication is off:
// the app sends telemetry with its managed identity (Monitoring Metrics Publisher, see rbac.bicep).
@description('Name of the Log Analytics workspace.')
param logAnalyticsName string
@description('Name of the workspace-based Application Insights component.')
param applicationInsightsName string
@description('Region of both resources.')
param location string
@description('Tags of every resource (azd-env-name).')
param tags resourceInput<'Microsoft.OperationalInsights/workspaces@2023-09-01'>.tags = {}

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

@description('Name of the Application Insights component.')
output applicationInsightsName string = applicationInsights.name

// The agent identity's Azure roles on one resource group named in ALLOWED_SCOPES (main.bicep deploys it once per
// resource group there, at that resource group's scope): nowhere else.
targetScope = 'resourceGroup'

param principalId string
param roleDefinitionIds array

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in roleDefinitionIds: {
  name: guid(resourceGroup().id, principalId, roleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

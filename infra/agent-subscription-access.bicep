// The agent identity's roles on a whole subscription: only where ALLOWED_SCOPES names the subscription itself
// (/subscriptions/<id>), and Monitoring Reader where the bot confirms Azure Monitor's alerts (alertSubscriptionIds).
targetScope = 'subscription'

param principalId string
param roleDefinitionIds array

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in roleDefinitionIds: {
  name: guid(subscription().id, principalId, roleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

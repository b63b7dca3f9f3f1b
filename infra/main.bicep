// SRE consent bot: hosting, the agent identity, the Azure Bot with Teams and SSO, storage, secrets, telemetry.
// Deploy into a resource group: see infra/README.md.

@description('Prefix for resource names (letters and digits).')
@minLength(3)
@maxLength(16)
param baseName string

param location string = resourceGroup().location

@description('Client id of the bot\'s Entra app registration (also the SSO app: it exposes access_as_user).')
param botAppId string

@description('Client secret of that app registration. Stored in Key Vault; the web app reads it by reference.')
@secure()
param botAppPassword string

param tenantId string = subscription().tenantId

@description('Object ids of the people who may approve plans.')
param approverObjectIds array

@minValue(1)
param approvalsRequired int = 1

@description('Subscription searched by chat commands that name a VM.')
param defaultSubscriptionId string = subscription().subscriptionId

@description('Azure roles of the agent identity on each of allowedScopes, and nowhere else. Reader by default: least privilege is the point of the credentials flow.')
param agentRoleDefinitionIds array = [
  'acdd72a7-3385-48ef-bd42-f606fba81ae7' // Reader
]

@description('Entra group whose members may approve (checked through Microsoft Graph; the agent identity then needs the Graph application permissions of infra/app-registrations.json agentIdentity.graphAppRoles). Empty: only approverObjectIds.')
param approverGroupId string = ''

@description('Azure scopes the bot may act on (ALLOWED_SCOPES): resource groups, /subscriptions/<id>/resourceGroups/<name>, or deliberately a whole subscription, /subscriptions/<id>. The agent identity gets agentRoleDefinitionIds on exactly these; every plan, chat command and alert outside them is refused.')
param allowedScopes array

@description('Subscriptions whose Azure Monitor alerts the bot confirms through the Alerts Management API (before an autonomous response plan acts, or a Resolved sent with only the URL secret withdraws plans): the agent identity gets Monitoring Reader there. Empty: no alert can be confirmed.')
param alertSubscriptionIds array = [
  defaultSubscriptionId
]

@description('true: the URL secret alone is accepted on /api/incidents (INCIDENT_ACCEPT_SECRET_ONLY). Off by default: the secret travels in URLs that App Service logs and the action group\'s Readers see; use the secure webhook.')
param incidentAcceptSecretOnly bool = false

@description('true: the storage account and the Key Vault take no public traffic; the web app reaches them through private endpoints in a virtual network of their own (private-network.bicep).')
param privateEndpoints bool = false

@description('Secret the Azure Monitor action group puts in the webhook URL (?code=...): at least 24 random characters. Stored in Key Vault; the web app reads it by reference. Empty turns /api/incidents off.')
@secure()
param incidentWebhookSecret string = ''

@description('Path on the web app of the JSON file of incident response plans: relative to the app root (a file shipped in the deployment zip, e.g. response-plans.json) or absolute (e.g. under /home). Empty: no response plans.')
param responsePlansFile string = ''

@description('Path on the web app of the JSON file of the agent apps that may call POST /api/plans ({"callers": [{"appId", "name", "scopes", "operations"}]}), like responsePlansFile. Empty: no app may submit plans.')
param apiCallersFile string = ''

@description('Where plans, audit and delivery keys live (STORE). azure-tables (the default): Table Storage, with alerts arriving through a Storage Queue; several instances and slot swaps share them. sqlite: one instance only, on the /home share (infra/README.md, "Which store").')
@allowed(['azure-tables', 'sqlite'])
param store string = 'azure-tables'

@description('The Teams SDK the bot runs on (BOT_SDK): botbuilder (Bot Framework SDK 4.17) or agents (Microsoft 365 Agents SDK).')
@allowed(['botbuilder', 'agents'])
param botSdk string = 'botbuilder'

@description('Teams channel id (19:...@thread.tacv2) where plans asked where no approver can act (a personal chat, a chat without approvers) are posted. Empty: such plans stay where they were asked, and the requester is told nobody can approve them there.')
param approvalsChannel string = ''

param appServiceSku string = 'B1'
param botSku string = 'F0'

var webAppName = '${baseName}-bot-${uniqueString(resourceGroup().id)}'
var botDomain = '${webAppName}.azurewebsites.net'

// The Entra registrations are written once, in app-registrations.json (infra/README.md applies them to the tenant, the
// sandbox Entra loads them): the Application ID URI and the OAuth connection come from there, placeholders filled.
var registrations = loadJsonContent('app-registrations.json')
var oauthConnection = registrations.oauthConnection
var ssoAppIdUri = replace(replace(registrations.bot.identifierUris[0], '{BOT_DOMAIN}', botDomain), '{BOT_APP_ID}', botAppId)
var ssoScopes = replace(replace(oauthConnection.scopes, '{BOT_DOMAIN}', botDomain), '{BOT_APP_ID}', botAppId)
var ssoTokenExchangeUrl = replace(replace(oauthConnection.tokenExchangeUrl, '{BOT_DOMAIN}', botDomain), '{BOT_APP_ID}', botAppId)

// The agent identity: what the bot acts as on Azure before anyone lends their rights. It holds roles on the
// allowedScopes only, and nothing on the bot's own resources (its secrets, its store).
resource agentIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${baseName}-agent'
  location: location
}

// The runtime identity: reads the bot's secrets from Key Vault and its store (Table Storage, the alert queue); it
// holds no role on any Azure resource the bot acts on. Two identities, so a token of one cannot do the other's work.
resource runtimeIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${baseName}-runtime'
  location: location
}

// The agent's roles exactly where ALLOWED_SCOPES says: per resource group named there (split: '', 'subscriptions',
// <id>, 'resourceGroups', <name>), and per whole subscription named there
module agentAccess 'agent-access.bicep' = [for (scope, i) in allowedScopes: if (length(split(scope, '/')) >= 5) {
  name: '${baseName}-agent-access-${i}'
  scope: resourceGroup(split(scope, '/')[2], split(scope, '/')[4])
  params: {
    principalId: agentIdentity.properties.principalId
    roleDefinitionIds: agentRoleDefinitionIds
  }
}]

module agentSubscriptionAccess 'agent-subscription-access.bicep' = [for (scope, i) in allowedScopes: if (length(split(scope, '/')) < 5) {
  name: '${baseName}-agent-subscription-access-${i}'
  scope: subscription(split(scope, '/')[2])
  params: {
    principalId: agentIdentity.properties.principalId
    roleDefinitionIds: agentRoleDefinitionIds
  }
}]

// Monitoring Reader: Microsoft.AlertsManagement/alerts/read, to confirm an alert with Azure Monitor
module alertsReader 'agent-subscription-access.bicep' = [for (subscriptionId, i) in alertSubscriptionIds: {
  name: '${baseName}-alerts-reader-${i}'
  scope: subscription(subscriptionId)
  params: {
    principalId: agentIdentity.properties.principalId
    roleDefinitionIds: ['43d0d8ad-25c7-4714-9337-8ba259a9fe05'] // Monitoring Reader
  }
}]

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${baseName}-logs'
  location: location
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${baseName}-insights'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
  }
}

// The production store (STORE=azure-tables, bot/adapters/store/tables): plans, audit and delivery keys in
// Azure Table Storage, and the alert inbox in a Storage Queue (bot/adapters/queue_inbox.py), reached with the runtime
// identity only (no account key: allowSharedKeyAccess is false).
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: toLower(take('${baseName}${uniqueString(resourceGroup().id)}', 24))
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: privateEndpoints ? 'Disabled' : 'Enabled'
    networkAcls: { defaultAction: privateEndpoints ? 'Deny' : 'Allow', bypass: 'None' }
  }
}

// The runtime identity must update plan rows, and the audit rows share each plan's table and partition (one
// transaction moves the plan and appends its audit); role assignment conditions cover Blob Storage and Queues only
// (https://learn.microsoft.com/azure/storage/blobs/storage-auth-abac), so it can write audit rows too.
// A rewrite is detected instead: every entity write and delete is logged (below, to Log Analytics) and
// `sre-consent-bot audit --verify` finds audit rows whose server-set Timestamp is later than when they were written.
resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, runtimeIdentity.id, 'table-data-contributor')
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
    principalId: runtimeIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Queue Data Contributor: the alert inbox queue (send, receive, update, delete) and its poison queue
resource queueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, runtimeIdentity.id, 'queue-data-contributor')
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '974c5e8b-45b9-4653-ba55-5f855dd0fb88')
    principalId: runtimeIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// The store's tables exist before the bot starts (the bot also creates them if missing)
var storeTablePrefix = 'sreconsent'

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// Every write and delete of a table entity, logged to Log Analytics (StorageTableLogs): the trail of any rewrite of
// an audit row (RowKey audit-...), which the bot itself never updates or deletes
resource tableLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-tampering-trail'
  scope: tableService
  properties: {
    workspaceId: logs.id
    logs: [
      { category: 'StorageWrite', enabled: true }
      { category: 'StorageDelete', enabled: true }
    ]
  }
}

resource plansTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: '${storeTablePrefix}plans'
}

resource deliveriesTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: '${storeTablePrefix}deliveries'
}

resource conversationsTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: '${storeTablePrefix}conversations'  // people's 1:1 chats with the bot (for private notes to approvers)
}

// The alert inbox (INBOX_QUEUE_NAME) and its poison queue, named as Azure Functions names them (<name>-poison)
var inboxQueueName = 'sreconsent-alerts'

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource inboxQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: inboxQueueName
}

resource inboxPoisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: '${inboxQueueName}-poison'
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: take('${baseName}-kv-${uniqueString(resourceGroup().id)}', 24)
  location: location
  properties: {
    tenantId: tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    enablePurgeProtection: true
    publicNetworkAccess: privateEndpoints ? 'Disabled' : 'Enabled'
  }
}

module privateNetwork 'private-network.bicep' = if (privateEndpoints) {
  name: '${baseName}-private-network'
  params: {
    baseName: baseName
    location: location
    storageAccountId: storage.id
    vaultId: vault.id
  }
}

resource botSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'bot-app-password'
  properties: {
    value: botAppPassword
  }
}

// Only when incidents are on: Key Vault secrets cannot be empty, and an empty setting turns /api/incidents off.
resource incidentSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(incidentWebhookSecret)) {
  parent: vault
  name: 'incident-webhook-secret'
  properties: {
    value: incidentWebhookSecret
  }
}

// Key Vault Secrets User for the runtime identity only: the agent identity cannot read the bot's secrets
resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, runtimeIdentity.id, 'secrets-user')
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
    principalId: runtimeIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: '${baseName}-plan'
  location: location
  kind: 'linux'
  sku: { name: appServiceSku }
  properties: {
    reserved: true
  }
}

var secretReference = '@Microsoft.KeyVault(SecretUri=${botSecret.properties.secretUri})'
var incidentSecretReference = empty(incidentWebhookSecret) ? '' : '@Microsoft.KeyVault(SecretUri=${incidentSecret.properties.secretUri})'

resource site 'Microsoft.Web/sites@2023-12-01' = {
  name: webAppName
  location: location
  kind: 'app,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${agentIdentity.id}': {}
      '${runtimeIdentity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: runtimeIdentity.id
    virtualNetworkSubnetId: privateEndpoints ? privateNetwork.outputs.appSubnetId : null
    siteConfig: {
      vnetRouteAllEnabled: privateEndpoints
      linuxFxVersion: 'PYTHON|3.11'
      appCommandLine: 'python -m bot serve'
      alwaysOn: true
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      healthCheckPath: '/readyz'
      appSettings: [
        { name: 'MicrosoftAppId', value: botAppId }
        { name: 'MicrosoftAppPassword', value: secretReference }
        { name: 'MicrosoftAppType', value: 'SingleTenant' }
        { name: 'MicrosoftAppTenantId', value: tenantId }
        { name: 'AZURE_TENANT_ID', value: tenantId }
        { name: 'AZURE_CLIENT_ID', value: agentIdentity.properties.clientId }
        { name: 'AZURE_STORAGE_CLIENT_ID', value: runtimeIdentity.properties.clientId }
        { name: 'SSO_CLIENT_ID', value: botAppId }
        { name: 'SSO_CLIENT_SECRET', value: secretReference }
        { name: 'SSO_APP_ID_URI', value: ssoAppIdUri }
        { name: 'OAUTH_CONNECTION_NAME', value: oauthConnection.name }
        { name: 'BOT_DOMAIN', value: botDomain }
        { name: 'DEFAULT_SUBSCRIPTION_ID', value: defaultSubscriptionId }
        { name: 'ALLOWED_SCOPES', value: join(allowedScopes, ',') }
        { name: 'DEFAULT_APPROVERS', value: join(approverObjectIds, ',') }
        { name: 'APPROVER_GROUP_ID', value: approverGroupId }
        { name: 'APPROVALS_REQUIRED', value: string(approvalsRequired) }
        { name: 'INCIDENT_WEBHOOK_SECRET', value: incidentSecretReference }
        { name: 'INCIDENT_ACCEPT_SECRET_ONLY', value: incidentAcceptSecretOnly ? 'true' : 'false' }
        { name: 'RESPONSE_PLANS_FILE', value: responsePlansFile }
        { name: 'API_CALLERS_FILE', value: apiCallersFile }
        { name: 'BOT_SDK', value: botSdk }
        { name: 'APPROVALS_CHANNEL', value: approvalsChannel }
        // several instances and slot swaps share Table Storage and the inbox queue; SQLite on /home (an SMB share) would not do
        { name: 'STORE', value: store }
        { name: 'AZURE_STORAGE_ACCOUNT_URL', value: storage.properties.primaryEndpoints.table }
        { name: 'STORE_TABLE_PREFIX', value: storeTablePrefix }
        { name: 'AZURE_STORAGE_QUEUE_URL', value: storage.properties.primaryEndpoints.queue }
        { name: 'INBOX_QUEUE_NAME', value: inboxQueueName }
        // only if STORE is switched back to sqlite: one instance, rollback journal on the share (STORE_SQLITE_WAL=auto)
        { name: 'STORE_PATH', value: '/home/data/sre-consent-bot.sqlite3' }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsights.properties.ConnectionString }
        { name: 'HOST', value: '0.0.0.0' }
        { name: 'PORT', value: '8000' }
        // Bot Framework endpoints (ToBotFromChannel*, ToChannelFromBot*, OAuthUrl) stay unset: the public cloud defaults.
        // App Service platform settings (not read by the bot)
        { name: 'WEBSITES_PORT', value: '8000' }
        { name: 'SCM_DO_BUILD_DURING_DEPLOYMENT', value: 'true' }
      ]
    }
  }
  dependsOn: [
    secretsUser
    tableDataContributor
    queueDataContributor
  ]
}

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: '${baseName}-bot'
  location: 'global'
  kind: 'azurebot'
  sku: { name: botSku }
  properties: {
    displayName: 'SRE Consent'
    endpoint: 'https://${site.properties.defaultHostName}/api/messages'
    msaAppId: botAppId
    msaAppType: 'SingleTenant'
    msaAppTenantId: tenantId
  }
}

resource teamsChannel 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
  }
}

// Teams SSO and its sign-in fallback (app-registrations.json oauthConnection): the token exchange URL must equal the
// manifest's webApplicationInfo.resource; the scope is the bot's own access_as_user, so a token from the fallback is
// exchanged On-Behalf-Of like a Teams SSO token. The sign-in redirects to https://token.botframework.com/.auth/web/redirect,
// a redirect URI of the app registration.
resource ssoConnection 'Microsoft.BotService/botServices/connections@2022-09-15' = {
  parent: bot
  name: oauthConnection.name
  location: 'global'
  properties: {
    serviceProviderDisplayName: oauthConnection.serviceProviderDisplayName
    serviceProviderId: '30dd229c-58e3-4a48-bdfd-91ec48eb906c' // Azure Active Directory v2
    clientId: botAppId
    clientSecret: botAppPassword
    scopes: ssoScopes
    parameters: [
      { key: 'tenantID', value: tenantId }
      { key: 'tokenExchangeUrl', value: ssoTokenExchangeUrl }
    ]
  }
}

output webAppName string = site.name
output botDomain string = botDomain
output messagingEndpoint string = 'https://${site.properties.defaultHostName}/api/messages'
output ssoAppIdUri string = ssoAppIdUri
output oauthConnectionName string = oauthConnection.name
output agentClientId string = agentIdentity.properties.clientId
output agentPrincipalId string = agentIdentity.properties.principalId
output runtimeClientId string = runtimeIdentity.properties.clientId
output keyVaultName string = vault.name
output storageAccountName string = storage.name
output botResourceName string = bot.name

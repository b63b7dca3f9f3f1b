// Optional (main.bicep privateEndpoints=true): the storage account's Table and Queue endpoints and the Key Vault
// reachable only through private endpoints in a virtual network the web app joins (regional VNet integration), each
// with its private DNS zone, so their public network access can be turned off.
// https://learn.microsoft.com/azure/private-link/private-endpoint-dns (zone names),
// https://learn.microsoft.com/azure/app-service/overview-vnet-integration (the app's subnet, delegated to serverFarms)

param baseName string
param location string
param storageAccountId string
param vaultId string

var zones = {
  table: 'privatelink.table.${environment().suffixes.storage}'
  queue: 'privatelink.queue.${environment().suffixes.storage}'
  vault: 'privatelink.vaultcore.azure.net'
}

resource network 'Microsoft.Network/virtualNetworks@2023-11-01' = {
  name: '${baseName}-vnet'
  location: location
  properties: {
    addressSpace: { addressPrefixes: ['10.60.0.0/24'] }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: '10.60.0.0/26'
          delegations: [{ name: 'web', properties: { serviceName: 'Microsoft.Web/serverFarms' } }]
        }
      }
      {
        name: 'endpoints'
        properties: {
          addressPrefix: '10.60.0.64/26'
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource dnsZones 'Microsoft.Network/privateDnsZones@2020-06-01' = [for zone in items(zones): {
  name: zone.value
  location: 'global'
}]

resource dnsLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [for (zone, i) in items(zones): {
  parent: dnsZones[i]
  name: '${baseName}-link'
  location: 'global'
  properties: {
    registrationEnabled: false
    virtualNetwork: { id: network.id }
  }
}]

// one endpoint per sub-resource: the store's tables, the alert inbox queue, and the vault
resource endpoints 'Microsoft.Network/privateEndpoints@2023-11-01' = [for (zone, i) in items(zones): {
  name: '${baseName}-pe-${zone.key}'
  location: location
  properties: {
    subnet: { id: '${network.id}/subnets/endpoints' }
    privateLinkServiceConnections: [
      {
        name: zone.key
        properties: {
          privateLinkServiceId: zone.key == 'vault' ? vaultId : storageAccountId
          groupIds: [zone.key]
        }
      }
    ]
  }
}]

resource dnsGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-11-01' = [for (zone, i) in items(zones): {
  parent: endpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [{ name: zone.key, properties: { privateDnsZoneId: dnsZones[i].id } }]
  }
}]

output appSubnetId string = '${network.id}/subnets/app'

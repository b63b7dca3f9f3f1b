"""Azure adapters: ARM runner (azure-mgmt-compute) and the identity broker (azure-identity)."""

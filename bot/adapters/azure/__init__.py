"""Azure adapters: the ARM executor (azure-mgmt-core's pipeline and polling) and the identity broker (azure-identity)."""

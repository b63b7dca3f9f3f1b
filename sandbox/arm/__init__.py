"""A loopback Azure Resource Manager for the compute subset the bot uses.

Wire formats follow https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations
and the compute REST reference: virtual machine GET (with `$expand=instanceView`),
`instanceView`, the power actions answering 202 with `Azure-AsyncOperation` and `Location`,
the async-operation status resource, RBAC per scope with the exact `AuthorizationFailed` body,
`ResourceNotFound`, and 401s for bad tokens. Paths are matched case-insensitively, as ARM does.

Modules: `compute` (VMs, power actions, how ARM shows them), `operations` (long-running operations),
`rbac` (tokens and role checks), `faults` (injected errors, latency and throttling), `responses` (error
answers), `simulator` (routing, writes, sandbox controls).
"""

from .compute import POWER_ACTIONS, READ_ACTION
from .faults import Fault
from .operations import Operation, WriteCall
from .rbac import Caller
from .simulator import ArmSimulator

__all__ = ["POWER_ACTIONS", "READ_ACTION", "ArmSimulator", "Caller", "Fault", "Operation", "WriteCall"]

"""Azure's naming rules for the names the bot puts into ARM paths (resource groups, virtual machines).

Source: "Naming rules and restrictions for Azure resources",
https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules
- Microsoft.Resources/resourcegroups: 1-90 characters; underscores, hyphens, periods, parentheses and letters
  or digits (Char.IsLetterOrDigit); can't end with a period.
- Microsoft.Compute/virtualMachines: 1-15 (Windows) or 1-64 (Linux) characters; can't use spaces, control
  characters or ``\\/"'[]:|<>+=;,?*@&_``; can't start with an underscore; can't end with a period or a hyphen.
The page also says "Don't use # in a resource name" (it interferes with URL parsing on ARM requests). VM names
here also refuse ``#%~!$^(){}`` and backquote (the page's stricter Windows list), so nothing URL-significant passes.

Checked on everything a person, an agent or an alert names, so that `..`, `/`, `#`, `?` or control characters
never reach an ARM request path.
"""

from __future__ import annotations

import re

SUBSCRIPTION_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_VM_FORBIDDEN = set("\\/\"'[]:|<>+=;,?*@&_#%~!$^(){}`")


def resource_group_problem(name: str) -> str | None:
    """Why `name` is not a valid resource group name, or None when it is."""
    if not 1 <= len(name) <= 90:
        return "a resource group name has 1 to 90 characters"
    if not all(c.isalnum() or c in "_-.()" for c in name):
        return "a resource group name has only letters, digits, underscores, hyphens, periods and parentheses"
    if name.endswith("."):
        return "a resource group name can't end with a period"
    return None


def vm_name_problem(name: str) -> str | None:
    """Why `name` is not a valid virtual machine name, or None when it is."""
    if not 1 <= len(name) <= 64:
        return "a VM name has 1 to 64 characters"
    if any(c.isspace() or not c.isprintable() or c in _VM_FORBIDDEN for c in name):
        return "a VM name has no spaces, control characters or any of \\/\"'[]:|<>+=;,?*@&_#"
    if name.endswith((".", "-")):
        return "a VM name can't end with a period or a hyphen"
    return None


def subscription_problem(subscription_id: str) -> str | None:
    return None if SUBSCRIPTION_ID.match(subscription_id) else "a subscription id is a GUID"

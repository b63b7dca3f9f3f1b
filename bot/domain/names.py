"""Azure's naming rules for the names the bot puts into ARM paths, one rule per kind of name.

Source: "Naming rules and restrictions for Azure resources",
https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules
- Microsoft.Resources/resourcegroups: 1-90 characters; underscores, hyphens, periods, parentheses and letters
  or digits (Char.IsLetterOrDigit); can't end with a period.
- Microsoft.Compute/virtualMachines: 1-15 (Windows) or 1-64 (Linux) characters; can't use spaces, control
  characters or ``\\/"'[]:|<>+=;,?*@&_``; can't start with an underscore; can't end with a period or a hyphen.
- Microsoft.Compute/virtualMachineScaleSets: 1-64 characters; as virtual machines, but underscores are allowed
  (not first).
- Microsoft.Web/sites and sites/slots: 2-60 alphanumerics and hyphens; an app can't start or end with a hyphen.
- Microsoft.Web/serverfarms: 1-40 alphanumerics and hyphens (the page's "1-60" for Linux plans is the wider; 40
  is the Windows bound, kept for both).
- Microsoft.App/containerApps: 2-32 lowercase letters, numbers and hyphens; start with a letter, end with an
  alphanumeric, no "--". A revision is named `<app>--<suffix>` (up to 64, lowercase, numbers and hyphens).
- Microsoft.ContainerService/managedClusters: 1-63 alphanumerics, underscores and hyphens; start and end with an
  alphanumeric. managedClusters/agentPools: 1-12 lowercase letters and numbers, starting with a letter.
- Microsoft.Cache/Redis: 1-63 alphanumerics and hyphens; start and end with an alphanumeric; no "--".
- Microsoft.Sql/servers and servers/failoverGroups: 1-63 lowercase letters, numbers and hyphens; can't start or end
  with a hyphen.
The page also says "Don't use # in a resource name" (it interferes with URL parsing on ARM requests). VM names
here also refuse ``#%~!$^(){}`` and backquote (the page's stricter Windows list), so nothing URL-significant passes.

Checked on everything a person, an agent or an alert names, so that `..`, `/`, `#`, `?` or control characters
never reach an ARM request path.
"""

from __future__ import annotations

import re
from collections.abc import Callable

SUBSCRIPTION_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_VM_FORBIDDEN = set("\\/\"'[]:|<>+=;,?*@&_#%~!$^(){}`")
NameRule = Callable[[str], str | None]


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


def scale_set_name_problem(name: str) -> str | None:
    """A scale set's name: the VM rule, except that an underscore may appear (never first)."""
    problem = vm_name_problem(name.replace("_", "x"))
    if problem:
        return problem.replace("a VM name", "a scale set name").replace("&_#", "&#")
    return "a scale set name can't start with an underscore" if name.startswith("_") else None


def _rule(pattern: str, description: str) -> NameRule:
    """A naming rule from the page as a pattern (ASCII only: `re.ASCII`), and the sentence that explains it."""
    compiled = re.compile(pattern, re.ASCII)

    def problem(name: str) -> str | None:
        return None if compiled.fullmatch(name) else description

    return problem


web_app_name_problem = _rule(
    r"[A-Za-z0-9][A-Za-z0-9-]{0,58}[A-Za-z0-9]", "a web app name has 2 to 60 letters, digits and hyphens, not first or last"
)
slot_name_problem = _rule(r"[A-Za-z0-9-]{2,60}", "a slot name has 2 to 60 letters, digits and hyphens")
plan_name_problem = _rule(r"[A-Za-z0-9-]{1,40}", "an App Service plan name has 1 to 40 letters, digits and hyphens")
container_app_name_problem = _rule(
    r"(?!.*--)[a-z][a-z0-9-]{0,30}[a-z0-9]",
    "a container app name has 2 to 32 lowercase letters, digits and hyphens, starts with a letter, "
    "ends with a letter or digit and has no '--'",
)
revision_name_problem = _rule(
    r"[a-z][a-z0-9-]{0,62}[a-z0-9]", "a revision name has up to 64 lowercase letters, digits and hyphens (<app>--<suffix>)"
)
cluster_name_problem = _rule(
    r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?",
    "an AKS cluster name has 1 to 63 letters, digits, underscores and hyphens, starting and ending with a letter or digit",
)
agent_pool_name_problem = _rule(r"[a-z][a-z0-9]{0,11}", "a node pool name has 1 to 12 lowercase letters and digits, starting with a letter")
redis_name_problem = _rule(
    r"(?!.*--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    "a Redis cache name has 1 to 63 letters, digits and hyphens, starts and ends with a letter or digit and has no '--'",
)
sql_name_problem = _rule(
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?",
    "a SQL server or failover group name has 1 to 63 lowercase letters, digits and hyphens, not first or last",
)


def subscription_problem(subscription_id: str) -> str | None:
    return None if SUBSCRIPTION_ID.match(subscription_id) else "a subscription id is a GUID"

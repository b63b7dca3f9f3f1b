"""What Azure Resource Manager's refusals mean: its error `code` mapped to a plain problem, AuthorizationFailed read
for the permission, scope and identity it names (the credentials flow starts only on that)."""

from __future__ import annotations

import re

from azure.core.exceptions import HttpResponseError

from ...domain.plan import AccessDenied, PlannedAction
from ...ports import AzureError, AzureProblem, RunResult, RunStatus

_AUTHZ = re.compile(
    r"The client '(?P<client>[^']*)' with object id '(?P<oid>[^']*)' does not have authorization to perform "
    r"action '(?P<action>[^']*)' over scope '(?P<scope>[^']*)'"
)
# ARM error codes -> what they mean for the thread. Sources:
# https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors (AuthorizationFailed,
#   Conflict, AnotherOperationInProgress, OperationNotAllowed, ResourceNotFound/NotFound, ResourceGroupNotFound,
#   SubscriptionNotFound, InvalidAuthenticationTokenTenant);
# https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-not-found (ResourceNotFound, NotFound);
# https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling (429 TooManyRequests);
# https://learn.microsoft.com/troubleshoot/azure/virtual-machines/windows/troubleshooting-throttling-errors (Compute
#   throttles with 429 and code OperationNotAllowed, detail code TooManyRequests: checked before OperationNotAllowed);
# the VM restart of a stopped VM: 409 OperationNotAllowed "The operation requires the VM to be running (or set to run)."
#   (learn.microsoft.com/troubleshoot/azure/virtual-machines/allocation-failure, MicrosoftDocs/azure-docs#32404);
# an If-Match ETag that no longer matches: 412 PreconditionFailed (the ARM RPC's optimistic concurrency,
#   https://github.com/Azure/azure-resource-manager-rpc/blob/master/v1.0/resource-api-reference.md#etags).
_PROBLEMS: dict[str, AzureProblem] = {
    "AuthorizationFailed": AzureProblem.AUTHORIZATION_FAILED,
    "OperationNotAllowed": AzureProblem.OPERATION_NOT_ALLOWED,
    "Conflict": AzureProblem.CONFLICT,
    "AnotherOperationInProgress": AzureProblem.CONFLICT,
    "OperationPreempted": AzureProblem.CONFLICT,
    "ResourceNotFound": AzureProblem.RESOURCE_NOT_FOUND,
    "NotFound": AzureProblem.RESOURCE_NOT_FOUND,
    "ResourceGroupNotFound": AzureProblem.RESOURCE_GROUP_NOT_FOUND,
    "SubscriptionNotFound": AzureProblem.SUBSCRIPTION_NOT_FOUND,
    "TooManyRequests": AzureProblem.THROTTLED,
    "AuthenticationFailed": AzureProblem.AUTHENTICATION_FAILED,
    "ExpiredAuthenticationToken": AzureProblem.AUTHENTICATION_FAILED,
    "PreconditionFailed": AzureProblem.STATE_CHANGED,
}


def azure_error(e: HttpResponseError) -> AzureError | None:
    if e.error is None or not e.error.code:
        return None
    return AzureError(str(e.error.code), str(e.error.message or ""))


def problem_of(e: HttpResponseError) -> AzureProblem:
    """By Azure's error code; the HTTP status only tells throttling (429 may come without a body) and If-Match."""
    code = e.error.code if e.error is not None else None
    details = {d.code for d in (e.error.details or [])} if e.error is not None else set()
    if e.status_code == 429 or code == "TooManyRequests" or "TooManyRequests" in details:
        return AzureProblem.THROTTLED
    if e.status_code == 412:
        return AzureProblem.STATE_CHANGED
    if code and code.startswith("InvalidAuthenticationToken"):  # ...Token, ...TokenTenant, ...TokenAudience
        return AzureProblem.AUTHENTICATION_FAILED
    return _PROBLEMS.get(code or "", AzureProblem.OTHER)


def map_error(e: HttpResponseError, action: PlannedAction) -> RunResult:
    """What ARM's refusal of `action` means; only AuthorizationFailed starts the credentials flow."""
    problem, said = problem_of(e), azure_error(e)
    if problem is AzureProblem.AUTHORIZATION_FAILED:
        message = said.message if said else ""
        m = _AUTHZ.search(message)
        denied = AccessDenied(
            permission=m["action"] if m else action.operation.rbac_action,
            scope=m["scope"] if m else action.resource.id,
            identity=m["client"] if m else "the caller",
            message=message,
        )
        return RunResult(
            RunStatus.REFUSED,
            f"Azure refused: {denied.identity} lacks {denied.permission} on {denied.scope}.",
            denied,
            problem=problem,
            azure_error=said,
        )
    if problem is AzureProblem.STATE_CHANGED:
        r = action.resource
        detail = (
            f"Azure refused the write because {r.resource_type.noun} {r.display} changed since it was read (its ETag no longer matches)"
        )
        return RunResult(RunStatus.FAILED, detail, problem=problem, azure_error=said)
    return RunResult(RunStatus.FAILED, f"Azure answered {e.status_code or 'an error'}", problem=problem, azure_error=said)

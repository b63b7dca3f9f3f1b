"""Refusals the domain explains to people, and the store's compare-and-set conflict."""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import ClassVar


class RefusalCode(str, Enum):
    NOT_FOUND = "not_found"
    NOT_AN_APPROVER = "not_an_approver"
    SELF_APPROVAL = "self_approval"
    OTHER_TENANT = "other_tenant"
    ALREADY_DECIDED = "already_decided"
    ALREADY_APPROVED_BY_YOU = "already_approved_by_you"
    EXPIRED = "expired"
    STALE_CARD = "stale_card"
    BAD_REQUEST = "bad_request"
    AUTONOMOUS_NOT_ALLOWED = "autonomous_not_allowed"
    WRONG_STATE = "wrong_state"
    OUT_OF_SCOPE = "out_of_scope"
    DIRECTORY_UNAVAILABLE = "directory_unavailable"  # the approver group could not be checked
    GUEST = "guest"  # a guest (or anonymous) member of the tenant, without ALLOW_GUESTS
    RATE_LIMITED = "rate_limited"  # too many commands or clicks from one person or conversation
    UNAVAILABLE = "unavailable"  # Azure could not be asked (a listing or a read the answer depends on)


class Refusal(Exception):
    """A request the bot declines, with a message fit for the person who made it."""

    def __init__(self, code: RefusalCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ConcurrentUpdate(Exception):
    """The plan changed since it was read: another click, task or instance won the compare-and-set."""

    def __init__(self, plan_id: str, expected_version: int) -> None:
        super().__init__(f"plan {plan_id} is no longer at version {expected_version}")
        self.plan_id = plan_id
        self.expected_version = expected_version


class CredentialProblemKind(StrEnum):
    """What went wrong with a user's credentials, which picks what to ask of them (the audit `code`)."""

    SIGN_IN_AGAIN = "sign_in_again"  # MFA or conditional access: interaction needed
    CONSENT = "consent"  # admin consent missing for the delegated Azure permission
    EXPIRED = "expired"  # the SSO assertion is expired or invalid: get a fresh one
    REJECTED = "rejected"  # the SSO token failed validation in the bot
    INVALID_AUTH_CODE = "invalid_auth_code"  # the sign-in fallback's magic code matched no sign-in
    OTHER = "other"


class CredentialProblem(Exception):
    """The user's credentials could not be obtained or used; `kind` picks what to ask of them."""

    # the kinds, reachable from the exception as before
    SIGN_IN_AGAIN: ClassVar[CredentialProblemKind] = CredentialProblemKind.SIGN_IN_AGAIN
    CONSENT: ClassVar[CredentialProblemKind] = CredentialProblemKind.CONSENT
    EXPIRED: ClassVar[CredentialProblemKind] = CredentialProblemKind.EXPIRED
    REJECTED: ClassVar[CredentialProblemKind] = CredentialProblemKind.REJECTED
    OTHER: ClassVar[CredentialProblemKind] = CredentialProblemKind.OTHER

    def __init__(self, kind: CredentialProblemKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class DirectoryUnavailable(Exception):
    """The directory could not say whether someone is in a group; `message` tells the person what to do.

    Never read as "not a member": the click is refused with this message instead.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

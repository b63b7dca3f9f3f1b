"""Checks a Teams SSO token before it is exchanged: docs/design.md §3 and §5 (the credentials checks)."""

from __future__ import annotations

from ...domain.errors import CredentialProblem
from ...domain.plan import Person
from .tokens import EntraTokenValidator, TokenRejected

SSO_SCOPE = "access_as_user"


class SsoVerifier:
    """Signature, audience (app id URI or id), issuer/tenant, expiry, `scp`, and `oid` = the clicking user.

    v1 and v2 tokens alike (EntraTokenValidator); an expired or not-yet-valid token is CredentialProblem.EXPIRED,
    which the Teams handler answers with 412 preconditionFailed so Teams gets a fresh token.
    """

    def __init__(self, validator: EntraTokenValidator, audiences: list[str]) -> None:
        self.validator = validator
        self.audiences = [a for a in audiences if a]

    async def __call__(self, token: str, person: Person) -> None:
        try:
            claims = await self.validator.validate(token, self.audiences)
        except TokenRejected as e:
            if e.out_of_time:  # answered 412 preconditionFailed: Teams fetches a fresh token by itself
                raise CredentialProblem(
                    CredentialProblem.EXPIRED,
                    f"Your sign-in token could not be used: {e.reason}. Nothing was done; "
                    "Teams is getting a fresh one. If nothing happens, click the button again.",
                ) from None
            raise CredentialProblem(CredentialProblem.REJECTED, f"Your sign-in token was refused: {e.reason}. Nothing was done.") from None
        if SSO_SCOPE not in str(claims.get("scp", "")).split():
            raise CredentialProblem(
                CredentialProblem.REJECTED,
                f"Your sign-in token was refused: it does not carry the {SSO_SCOPE} permission. Nothing was done.",
            )
        if claims.get("oid") != person.object_id:
            raise CredentialProblem(
                CredentialProblem.REJECTED,
                "Your sign-in token was refused: it belongs to someone other than the person who clicked. Nothing was done.",
            )

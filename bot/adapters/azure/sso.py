"""Checks a Teams SSO token before it is exchanged: docs/design.md §3 and §5 (the credentials checks)."""

from __future__ import annotations

from ...domain.errors import CredentialProblem
from ...domain.plan import Person
from .tokens import EntraTokenValidator, TokenRejected

SSO_SCOPE = "access_as_user"
# The clients Microsoft documents for Teams SSO, whose client ids an app registration pre-authorizes for its scope
# (https://learn.microsoft.com/microsoftteams/platform/tabs/how-to/authentication/tab-sso-register-aad, "To configure
# authorized client application"; the bot pages list the first two). A token Teams obtains names one of them in
# `azp` (v2) or `appid` (v1); infra/app-registrations.json pre-authorizes exactly these (tests/unit/test_infra.py).
TEAMS_SSO_CLIENTS: dict[str, str] = {
    "1fec8e78-bce4-4aaf-ab1b-5451cc387264": "Teams mobile or desktop application",
    "5e3ce6c0-2b1f-4285-8d4b-75ee78787346": "Teams web application",
    "4765445b-32c6-49b0-83e6-1d93765276ca": "Microsoft 365 web application",
    "0ec893e0-5785-4de6-99da-4ed124e5296c": "Microsoft 365 desktop application",
    "d3590ed6-52b3-4102-aeff-aad2292ab01c": "Microsoft 365 mobile application and Outlook desktop application",
    "bc59ab01-8403-45c6-8796-ac3ef710b3e3": "Outlook web application",
    "27922004-5251-4030-b22d-91ecd9a37ea4": "Outlook mobile application",
}


class SsoVerifier:
    """Signature, audience (app id URI or id), issuer/tenant, expiry, `scp`, the client the token was issued to, and
    `oid` = the clicking user.

    The client (`azp` in v2, `appid` in v1) must be one of TEAMS_SSO_CLIENTS or `sign_in_client` (the OAuth
    connection's app, the bot's own SSO app, through which the token service's sign-in fallback obtains its token):
    any other app a person once consented to could otherwise get a token for the bot's scope and lend their rights.
    v1 and v2 tokens alike (EntraTokenValidator); an expired or not-yet-valid token is CredentialProblem.EXPIRED,
    which the Teams handler answers with 412 preconditionFailed so Teams gets a fresh token.
    """

    def __init__(self, validator: EntraTokenValidator, audiences: list[str], sign_in_client: str = "") -> None:
        self.validator = validator
        self.audiences = [a for a in audiences if a]
        self.clients = frozenset(c.lower() for c in (*TEAMS_SSO_CLIENTS, sign_in_client) if c)

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
        if str(claims.get("azp") or claims.get("appid") or "").lower() not in self.clients:
            raise CredentialProblem(
                CredentialProblem.REJECTED,
                "Your sign-in token was refused: it was issued to an app other than Microsoft Teams or Microsoft 365. "
                "Nothing was done; use the button in Teams.",
            )
        if claims.get("oid") != person.object_id:
            raise CredentialProblem(
                CredentialProblem.REJECTED,
                "Your sign-in token was refused: it belongs to someone other than the person who clicked. Nothing was done.",
            )

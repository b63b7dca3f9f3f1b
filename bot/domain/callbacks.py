"""Where an agent may be told about its plan: a callback URL under one of its registered prefixes.

An agent's plan may name a URL the bot POSTs a signed event to at every change of the plan's state. The URL is the
caller's to choose only within the `callbackUrls` its entry in API_CALLERS_FILE lists: https, the same host and port as
a prefix, and a path under the prefix's path at a segment boundary (`https://agent.example/hooks/` admits
`.../hooks/plans` but not `.../hooksmith`). Nothing is ever sent elsewhere. The URL carries no query, fragment or
credentials: the event's signature, not a secret in the URL, proves it came from the bot, and the URL is stored with
the plan.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .service_urls import ServiceUrlPolicy

# Standard Webhooks secrets: "whsec_" then base64 of 24 to 64 random bytes
# (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md, "Symmetric")
SECRET_PREFIX = "whsec_"
SECRET_BYTES = (24, 64)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# encoded dots, slashes and backslashes would let a path climb out of its prefix once a client decodes it
_ENCODED_ESCAPES = re.compile(r"%(2e|2f|5c)", re.IGNORECASE)
URL_RULE = (
    "must be an https URL under one of the caller's callbackUrls in API_CALLERS_FILE (same host and port, a path "
    "under the prefix's path), without query, fragment or credentials"
)


@dataclass(frozen=True)
class Callback:
    """Where to tell the agent about its plan, and whose callback secret signs what is sent there."""

    url: str
    app_id: str  # the caller app (its entry's callbackSecretEnv names the secret)


@dataclass(frozen=True)
class CallbackUrls:
    """The callback URL prefixes one caller registered."""

    policy: ServiceUrlPolicy

    @classmethod
    def of(cls, prefixes: Iterable[str]) -> CallbackUrls:
        """Raises ValueError for a prefix that is not a plain https URL."""
        return cls(ServiceUrlPolicy.of(prefixes))

    def allows(self, url: object) -> bool:
        if not isinstance(url, str) or len(url) > 2048 or _ENCODED_ESCAPES.search(url):
            return False
        return self.policy.allows(url)

    def __bool__(self) -> bool:
        return bool(self.policy.prefixes)


def env_name_problem(name: object) -> str | None:
    """Why `name` cannot name an environment variable holding a callback secret, or None."""
    if not isinstance(name, str) or not _ENV_NAME.match(name):
        return "callbackSecretEnv must name an environment variable (letters, digits and _)"
    return None


def secret_problem(secret: str) -> str | None:
    """Why `secret` is not a Standard Webhooks signing secret (whsec_ + base64 of 24 to 64 bytes), or None. Never
    repeats the secret."""
    if not secret.startswith(SECRET_PREFIX):
        return f"expected {SECRET_PREFIX} followed by base64 of {SECRET_BYTES[0]} to {SECRET_BYTES[1]} random bytes"
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return f"what follows {SECRET_PREFIX} is not base64"
    if not SECRET_BYTES[0] <= len(key) <= SECRET_BYTES[1]:
        return f"the key must be {SECRET_BYTES[0]} to {SECRET_BYTES[1]} bytes (it is {len(key)})"
    return None

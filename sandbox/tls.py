"""A throwaway certificate authority for the loopback simulators.

The CA is created at start-up with `trustme`; nothing is written to the repository. The bot
trusts it through `SSL_CERT_FILE` / `REQUESTS_CA_BUNDLE`, so TLS verification stays on.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class SandboxTLS:
    """The CA bundle path plus a server context for every simulator."""

    ca_path: Path
    server_context: ssl.SSLContext

    @classmethod
    def create(cls, directory: Path) -> SandboxTLS:
        """Create a CA, issue a `localhost` / `127.0.0.1` certificate and write the CA to `directory`."""
        ca = trustme.CA(organization_name="sre-consent-bot sandbox")
        leaf = ca.issue_cert("localhost", "127.0.0.1", "::1")
        directory.mkdir(parents=True, exist_ok=True)
        ca_path = directory / "sandbox-ca.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(context)
        return cls(ca_path=ca_path, server_context=context)

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts only the sandbox CA."""
        return ssl.create_default_context(cafile=str(self.ca_path))

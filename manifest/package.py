"""Build the Teams app package from configuration, and validate one offline.

Validation uses the official Teams manifest JSON schema shipped in the npm package
`@microsoft/app-manifest` (installed by `make test` / `npm ci`, never copied here), plus the
checks a schema cannot express: icon sizes and transparency, commands equal to the bot's,
and the SSO resource matching the bot and its domain.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.adapters.conversation.commands import COMMAND_HELP
from bot.config import ConfigError, ManifestSettings

HERE = Path(__file__).parent
ROOT = HERE.parent
TEMPLATE = HERE / "manifest.template.json"
SCHEMA_PACKAGE = Path("node_modules/@microsoft/app-manifest/build/json-schemas/teams")
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
ICON_SIZES = {"color": 192, "outline": 32}
SCOPES = ["personal", "team", "groupChat"]
# The OAuth connection's sign-in fallback opens a page of the Bot Framework token service; Teams opens only valid domains
# (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/authentication/add-authentication).
TOKEN_SERVICE_DOMAIN = "token.botframework.com"


class ManifestError(Exception):
    """The package cannot be built: a value is missing or invalid (the message says which)."""


@dataclass(frozen=True)
class AppPackage:
    manifest: dict[str, Any]
    files: dict[str, bytes]  # name in the zip -> content (icons)

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("manifest.json", json.dumps(self.manifest, indent=2) + "\n")
            for name, content in self.files.items():
                z.writestr(name, content)
        return buffer.getvalue()


def _fill(node: Any, values: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        for key, value in values.items():
            node = node.replace("${{" + key + "}}", value)
        return node
    if isinstance(node, list):
        return [_fill(n, values) for n in node]
    if isinstance(node, dict):
        return {k: _fill(v, values) for k, v in node.items()}
    return node


def build(env: Mapping[str, str]) -> AppPackage:
    """The package for the bot configured by `env` (MicrosoftAppId, SSO settings, BOT_DOMAIN...), read by the bot's
    own settings group (bot/config/manifest.py): the same names, defaults and checks."""
    try:
        m = ManifestSettings.from_env(env)
    except ConfigError as e:
        raise ManifestError(str(e)) from None
    values = {
        "VERSION": m.version,
        "TEAMS_APP_ID": m.teams_app_id,
        "DEVELOPER_NAME": m.developer,
        "BOT_DOMAIN": m.bot_domain,
        "BOT_ID": m.bot_id,
        "SSO_CLIENT_ID": m.sso_client_id,
        "SSO_APP_ID_URI": m.sso_app_id_uri,
    }
    manifest = _fill(json.loads(TEMPLATE.read_text()), values)
    manifest["bots"][0]["commandLists"] = [
        {
            "scopes": SCOPES,
            "commands": [{"title": name, "description": description[:128]} for name, _, description in COMMAND_HELP],
        }
    ]
    return AppPackage(manifest, {"color.png": (HERE / "color.png").read_bytes(), "outline.png": (HERE / "outline.png").read_bytes()})


def load(path: Path) -> AppPackage:
    """Read a package from a .zip, a folder, or a manifest.json (icons next to it)."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            manifest = json.loads(z.read("manifest.json")) if "manifest.json" in names else {}
            files = {n: z.read(n) for n in names if n != "manifest.json"}
        return AppPackage(manifest, files)
    folder = path if path.is_dir() else path.parent
    manifest = json.loads((folder / "manifest.json" if path.is_dir() else path).read_text())
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix == ".png"}
    return AppPackage(manifest, files)


def schema_for(manifest: Mapping[str, Any], search: list[Path] | None = None) -> dict[str, Any]:
    """The official schema named by the manifest's `$schema`, from the installed npm package."""
    url = str(manifest.get("$schema", ""))
    m = re.search(r"/teams/(v[\d.]+|vDevPreview)/MicrosoftTeams\.schema\.json$", url)
    if not m:
        raise ManifestError(f"$schema {url!r} is not a Teams manifest schema URL")
    for base in search or [Path.cwd(), ROOT]:
        candidate = base / SCHEMA_PACKAGE / m[1] / "MicrosoftTeams.schema.json"
        if candidate.is_file():
            schema: dict[str, Any] = json.loads(candidate.read_text(encoding="utf-8-sig"))
            return schema
    raise ManifestError(f"the official schema {m[1]} is not installed: run `npm ci` (make test does) for @microsoft/app-manifest")


def _png_info(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, colour type) from a PNG header, or None if it is not a PNG."""
    if len(data) < 26 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height, data[25]


def validate(package: AppPackage) -> list[str]:
    """Every problem found (empty = valid): schema errors with their JSON path, then the other checks."""
    import jsonschema

    m = package.manifest
    problems: list[str] = []
    try:
        validator = jsonschema.Draft4Validator(schema_for(m))
        for error in sorted(validator.iter_errors(m), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            problems.append(f"schema: {where}: {error.message}")
    except ManifestError as e:
        problems.append(str(e))
    for kind, size in ICON_SIZES.items():
        name = (m.get("icons") or {}).get(kind)
        data = package.files.get(name or "")
        info = _png_info(data) if data else None
        if info is None:
            problems.append(f"icons/{kind}: {name!r} is missing from the package or is not a PNG")
        elif info[:2] != (size, size):
            problems.append(f"icons/{kind}: {name} is {info[0]}x{info[1]}, expected {size}x{size}")
        elif kind == "outline" and info[2] not in (4, 6):
            problems.append(f"icons/outline: {name} has no alpha channel; the outline icon must be transparent")
    for field, value in (("id", m.get("id")), ("webApplicationInfo/id", (m.get("webApplicationInfo") or {}).get("id"))):
        if not isinstance(value, str) or not GUID.match(value):
            problems.append(f"{field}: {value!r} is not a GUID")
    for i, bot in enumerate(m.get("bots") or []):
        if not GUID.match(str(bot.get("botId", ""))):
            problems.append(f"bots/{i}/botId: {bot.get('botId')!r} is not a GUID")
        listed = [c.get("title") for cl in bot.get("commandLists") or [] for c in cl.get("commands") or []]
        expected = [name for name, _, _ in COMMAND_HELP]
        if sorted(set(listed)) != sorted(expected):
            missing, extra = set(expected) - set(listed), set(listed) - set(expected)
            problems.append(f"bots/{i}/commandLists: commands differ from the bot's (missing {sorted(missing)}, unknown {sorted(extra)})")
    resource = str((m.get("webApplicationInfo") or {}).get("resource", ""))
    rm = re.match(r"^api://([^/]+)/botid-([0-9a-fA-F-]{36})$", resource)
    if not rm:
        problems.append(f"webApplicationInfo/resource: {resource!r} should be api://<domain>/botid-<bot app id>")
    elif rm[1] not in (m.get("validDomains") or []):
        problems.append(f"webApplicationInfo/resource: domain {rm[1]} is not in validDomains")
    if m.get("webApplicationInfo") and TOKEN_SERVICE_DOMAIN not in (m.get("validDomains") or []):
        problems.append(f"validDomains: {TOKEN_SERVICE_DOMAIN} is missing; Teams would not open the sign-in page of the SSO fallback")
    return problems

"""The Teams app package: built from configuration, validated offline with the official schema."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from manifest.icons import outline_pixel, png
from manifest.package import AppPackage, ManifestError, build, load, validate

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "MicrosoftAppId": "8f3c1f0e-5a7b-4c2d-9e1f-0a1b2c3d4e5f",
    "BOT_DOMAIN": "sre-consent.azurewebsites.net",
}


def test_built_package_is_valid_against_the_official_schema() -> None:
    package = build(ENV)
    assert validate(package) == []
    m = package.manifest
    assert m["webApplicationInfo"]["resource"] == f"api://sre-consent.azurewebsites.net/botid-{ENV['MicrosoftAppId']}"
    assert m["validDomains"] == ["sre-consent.azurewebsites.net", "token.botframework.com"]
    assert m["bots"][0]["scopes"] == ["personal", "team", "groupChat"]
    assert "restart vm" in {c["title"] for c in m["bots"][0]["commandLists"][0]["commands"]}


def test_cli_builds_a_zip_that_validates(tmp_path: Path) -> None:
    out = tmp_path / "app.zip"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **ENV}
    built = subprocess.run(
        [sys.executable, "-m", "bot", "manifest", "build", "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    assert set(zipfile.ZipFile(out).namelist()) == {"manifest.json", "color.png", "outline.png"}
    checked = subprocess.run(
        [sys.executable, "-m", "bot", "manifest", "validate", str(out)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert checked.returncode == 0 and "valid" in checked.stdout


def _broken(change: str) -> AppPackage:
    package = build(ENV)
    m = json.loads(json.dumps(package.manifest))
    files = dict(package.files)
    if change == "missing_developer":
        del m["developer"]
    elif change == "bad_guid":
        m["id"] = "not-a-guid"
    elif change == "icon_size":
        files["outline.png"] = png(64, outline_pixel)
    elif change == "commands":
        m["bots"][0]["commandLists"][0]["commands"].pop()
    elif change == "resource_domain":
        m["validDomains"] = ["elsewhere.example", "token.botframework.com"]
    elif change == "token_service":
        m["validDomains"] = [ENV["BOT_DOMAIN"]]
    return replace(package, manifest=m, files=files)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing_developer", "schema: (root): 'developer' is a required property"),
        ("bad_guid", "schema: id: 'not-a-guid' does not match"),
        ("icon_size", "icons/outline: outline.png is 64x64, expected 32x32"),
        ("commands", "commands differ from the bot's (missing ['help']"),
        ("resource_domain", "is not in validDomains"),
        ("token_service", "validDomains: token.botframework.com is missing"),
    ],
)
def test_broken_manifest_fails_naming_the_problem(change: str, message: str) -> None:
    problems = validate(_broken(change))
    assert any(message in p for p in problems), problems


def test_build_without_an_app_id_says_what_is_missing() -> None:
    from manifest.package import ManifestError

    with pytest.raises(ManifestError, match="MicrosoftAppId"):
        build({"BOT_DOMAIN": "x.example"})


def test_load_reads_back_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "app.zip"
    path.write_bytes(build(ENV).zip_bytes())
    assert validate(load(path)) == []


def test_committed_icons_are_the_ones_the_generator_draws() -> None:
    from manifest.icons import HERE, color_pixel

    assert (HERE / "color.png").read_bytes() == png(192, color_pixel)
    assert (HERE / "outline.png").read_bytes() == png(32, outline_pixel)


def test_the_package_reads_the_bots_own_settings() -> None:
    """The manifest's defaults are the bot's (bot/config/settings.toml), never its own."""
    from bot.config import SETTINGS

    version = next(s.default for s in SETTINGS if s.name == "TEAMS_APP_VERSION")
    developer = next(s.default for s in SETTINGS if s.name == "TEAMS_APP_DEVELOPER")
    m = build(ENV).manifest
    assert m["version"] == version and m["developer"]["name"] == developer
    with pytest.raises(ManifestError, match="BOT_DOMAIN"):
        build({**ENV, "BOT_DOMAIN": "https://x.example/"})

"""The pure parts of what agents get: callback URL rule and secrets, the callers file's callback fields, the Prefer
and If-None-Match headers, the public URL, and the settings that hold them."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from bot.adapters.http.long_poll import MAX_WAIT, none_match, preferred_wait
from bot.config import ConfigError, Settings
from bot.config.api import public_url
from bot.domain.callbacks import CallbackUrls, secret_problem
from bot.domain.callers import parse_api_callers
from bot.domain.scope import Scope

from .test_config import GOOD

APP = "11111111-2222-3333-4444-555555555555"
SUB = "00000000-0000-0000-0000-0000000000aa"
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://agent.example/hooks/", True),
        ("https://agent.example/hooks", True),  # the prefix itself
        ("https://agent.example/hooks/plans/p-1", True),
        ("https://AGENT.example:443/hooks/x", True),  # the same origin, spelled otherwise
        ("https://agent.example/hooksmith", False),  # not at a segment boundary
        ("http://agent.example/hooks/x", False),
        ("https://agent.example:8443/hooks/x", False),
        ("https://evil.example/hooks/x", False),
        ("https://agent.example.evil.example/hooks/x", False),
        ("https://agent.example/hooks/../admin", False),
        ("https://agent.example/hooks/%2E%2E/admin", False),
        ("https://agent.example/hooks/a%2fb", False),
        ("https://agent.example/hooks/x?code=1", False),
        ("https://agent.example/hooks/x#f", False),
        ("https://u:p@agent.example/hooks/x", False),
        ("https://agent.example/hooks/\nx", False),
        (None, False),
        (["https://agent.example/hooks/"], False),
    ],
)
def test_a_callback_url_must_lie_under_a_prefix(url: object, allowed: bool) -> None:
    assert CallbackUrls.of(["https://agent.example/hooks/"]).allows(url) is allowed


def test_a_signing_secret_is_whsec_and_base64_of_24_to_64_bytes_and_problems_never_show_it() -> None:
    assert secret_problem(SECRET) is None
    for bad in (
        "k" * 40,
        "whsec_not base64!",
        "whsec_" + base64.b64encode(b"short").decode(),
        "whsec_" + base64.b64encode(b"x" * 65).decode(),
    ):
        problem = secret_problem(bad)
        assert problem and bad not in problem


def test_the_callers_file_takes_callback_prefixes_with_the_name_of_the_secrets_variable() -> None:
    entry = {"appId": APP, "name": "Agent", "scopes": [f"/subscriptions/{SUB}"], "operations": ["restart"]}
    allowed = (Scope(SUB),)
    (plain,) = parse_api_callers({"callers": [entry]}, allowed)
    assert not plain.callback_urls and plain.callback_secret_env == ""
    with_callbacks = {**entry, "callbackUrls": ["https://agent.example/hooks/"], "callbackSecretEnv": "AGENT_SECRET"}
    (caller,) = parse_api_callers({"callers": [with_callbacks]}, allowed)
    assert caller.callback_urls.allows("https://agent.example/hooks/x") and caller.callback_secret_env == "AGENT_SECRET"
    for broken, says in (
        ({"callbackUrls": ["https://agent.example/"]}, "callbackSecretEnv"),
        ({"callbackSecretEnv": "AGENT_SECRET"}, "callbackUrls"),
        ({"callbackUrls": ["http://agent.example/"], "callbackSecretEnv": "X"}, "callbackUrls"),
        ({"callbackUrls": ["https://agent.example/"], "callbackSecretEnv": "whsec_abc=="}, "callbackSecretEnv"),
    ):
        with pytest.raises(ValueError, match=says):
            parse_api_callers({"callers": [{**entry, **broken}]}, allowed)


def _with_callers(tmp_path: Path, **env: str) -> dict[str, str]:
    entry = {
        "appId": APP,
        "name": "Agent",
        "scopes": [f"/subscriptions/{SUB}"],
        "operations": ["restart"],
        "callbackUrls": ["https://agent.example/hooks/"],
        "callbackSecretEnv": "AGENT_SECRET",
    }
    path = tmp_path / "callers.json"
    path.write_text(json.dumps({"callers": [entry]}))
    return {**GOOD, "API_CALLERS_FILE": str(path), **env}


def test_the_callback_secret_comes_from_the_variable_the_entry_names(tmp_path: Path) -> None:
    settings = Settings.from_env(_with_callers(tmp_path, AGENT_SECRET=SECRET))
    assert dict(settings.api.callback_secrets) == {APP: SECRET} and SECRET not in repr(settings)
    for env, says in (
        ({}, "AGENT_SECRET (callbackSecretEnv of Agent in API_CALLERS_FILE) is invalid: it is not set"),
        ({"AGENT_SECRET": "nope"}, "whsec_"),
    ):
        with pytest.raises(ConfigError) as e:
            Settings.from_env(_with_callers(tmp_path, **env))
        assert says in str(e.value) and "nope" not in str(e.value)


def test_callback_settings_are_bounded() -> None:
    assert Settings.from_env(GOOD).limits.callback_max_attempts == 8
    with pytest.raises(ConfigError, match="CALLBACK_RETRY_SECONDS=31 is invalid: expected at most 30"):
        Settings.from_env({**GOOD, "CALLBACK_RETRY_SECONDS": "31"})
    with pytest.raises(ConfigError, match="CALLBACK_MAX_ATTEMPTS='0' is invalid"):
        Settings.from_env({**GOOD, "CALLBACK_MAX_ATTEMPTS": "0"})


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        (["wait=10"], 10),
        (["respond-async, wait=10"], 10),
        (["handling=lenient", 'Wait = "30"'], 30),
        (["wait=10; foo=bar"], 10),
        (["wait=100000"], MAX_WAIT),
        (["wait=soon"], None),
        (["wait=-1"], None),
        ([], None),
    ],
)
def test_the_wait_preference_is_read_as_rfc_7240_writes_it(headers: list[str], wait: int | None) -> None:
    assert preferred_wait(headers) == wait


def test_if_none_match_lists_tags_and_compares_weakly() -> None:
    assert none_match('"a", W/"b"') == {'"a"', '"b"'} and none_match("*") == {"*"} and none_match(None) == set()


@pytest.mark.parametrize(
    ("domain", "sso", "port", "url"),
    [
        ("consent.contoso.example", "", 3978, "https://consent.contoso.example"),
        ("", "api://consent.contoso.example/botid-x", 3978, "https://consent.contoso.example"),
        ("", "api://localhost/botid-x", 3978, "http://localhost:3978"),
        ("", "api://botid-x", 3978, ""),
    ],
)
def test_the_public_url_is_bot_domain_over_https_or_loopback_over_http(domain: str, sso: str, port: int, url: str) -> None:
    assert public_url(domain, sso, port) == url


def test_the_command_line_imports_no_aiohttp_before_the_sandbox_exports_its_ca() -> None:
    """aiohttp builds its default SSL context when first imported: `sandbox` exports the CA (SSL_CERT_FILE) only once
    its command runs, so building the command line (driver plan included) must not import aiohttp."""
    import subprocess
    import sys

    probe = (
        "import argparse, sys; import bot.__main__; from sandbox.cli import add_commands; "
        "add_commands(argparse.ArgumentParser().add_subparsers()); print('aiohttp' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2])
    assert done.stdout.strip() == "False", done.stdout + done.stderr

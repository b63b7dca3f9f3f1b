"""Starting the bot as a newcomer meets it: one line per start-up problem naming the setting, one line once it
listens, check-config's hints, and `make run` (the sandbox) with a production `.env` and across a kill -9."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.test_cli import SERVE_ENV, _clean_env, _cli, _start_sandbox, _stop
from tests.net import free_port

SERVING = {
    **SERVE_ENV,
    "MicrosoftAppId": "22222222-2222-2222-2222-222222222222",
    "MicrosoftAppPassword": "not-a-real-secret",
}
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    return free_port()


def test_serve_with_an_unreachable_store_prints_one_line_naming_the_setting(tmp_path: Path) -> None:
    port = _closed_port()
    endpoint = f"http://127.0.0.1:{port}/devstoreaccount1"
    connection = f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};TableEndpoint={endpoint};"
    env = {**_clean_env(), **SERVING, "PORT": str(free_port()), "STORE": "azure-tables", "AZURE_STORAGE_CONNECTION_STRING": connection}
    result = _cli("serve", cwd=tmp_path, env=env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and result.stdout == "" and len(lines) == 1, result.stderr
    assert lines[0].startswith("start-up error: the store cannot be reached"), lines[0]
    assert "STORE=azure-tables" in lines[0] and f"AZURE_STORAGE_CONNECTION_STRING with TableEndpoint={endpoint}" in lines[0]
    assert AZURITE_KEY not in result.stderr  # the account key never shows


def test_serve_with_a_store_path_it_cannot_open_names_store_path(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    env = {**_clean_env(), **SERVING, "PORT": str(free_port()), "STORE_PATH": str(tmp_path / "a-file" / "bot.sqlite3")}
    result = _cli("serve", cwd=tmp_path, env=env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("start-up error: the store cannot be opened") and "STORE_PATH=" in lines[0], lines[0]


def test_serve_on_a_taken_port_prints_one_line_naming_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**_clean_env(), **SERVING, "PORT": str(port), "STORE_PATH": str(tmp_path / "s.sqlite3")}
        result = _cli("serve", cwd=tmp_path, env=env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0] == f"start-up error: PORT={port}: port {port} is already in use by another program; stop it, or set PORT to a free port"


def test_serve_says_once_where_it_listens_with_which_sdk_and_store(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **_clean_env(),
        **SERVING,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "STORE_PATH": str(tmp_path / "s.sqlite3"),
        "BOT_SDK": "agents",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()  # blocks until the bot prints it: once it listens
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # it does listen
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert line == (
        f"listening on http://localhost:{port}/api/messages (BOT_SDK=agents, STORE=sqlite, STORE_PATH={tmp_path / 's.sqlite3'}, "
        "app id 22222222-2222-2222-2222-222222222222); Ctrl-C stops"
    ), line + err
    assert out.strip() == ""  # one line, not one per request


def test_check_config_names_keys_of_dot_env_that_are_no_setting(tmp_path: Path) -> None:
    env_file = "".join(f"{k}={v}\n" for k, v in SERVING.items())
    (tmp_path / ".env").write_text(env_file + "PLAN_EXPIRY_MINUTE=5\nMICROSOFTAPPTYPE=SingleTenant\nFAVOURITE_COLOUR=green\n")
    result = _cli("check-config", cwd=tmp_path, env=_clean_env())
    assert result.returncode == 2 and "configuration is valid" not in result.stdout, result.stdout
    assert result.stderr.strip().splitlines() == [
        "configuration error: PLAN_EXPIRY_MINUTE in .env is not a setting: did you mean PLAN_EXPIRY_MINUTES?",
        "configuration error: MICROSOFTAPPTYPE in .env is not a setting: did you mean MicrosoftAppType?",
        "configuration error: FAVOURITE_COLOUR in .env is not a setting: the README's Configuration section lists every setting",
    ]


def test_check_config_on_a_fresh_clone_says_how_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in _clean_env().items() if k not in {"BOT_SDK", "PORT", "LOG_LEVEL"}}
    result = _cli("check-config", cwd=tmp_path, env=env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and "cp .env.example .env" in lines[0], result.stderr
    # and still every problem, the ones only a running bot has included
    assert any("AZURE_TENANT_ID is required" in line for line in lines) and any(
        "MicrosoftAppId is required to serve" in line for line in lines
    )
    (tmp_path / ".env").write_text("# copied, not filled in yet\n")
    assert "cp .env.example .env" not in _cli("check-config", cwd=tmp_path, env=env).stderr


def test_make_run_does_not_take_production_settings_from_dot_env(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "STORE=azure-tables\nAZURE_STORAGE_ACCOUNT_URL=https://contosoprod.table.core.windows.net\n"
        "AZURE_TENANT_ID=11111111-1111-1111-1111-111111111111\nPLAN_EXPIRY_MINUTES=7\n"
    )
    proc, banner = _start_sandbox(tmp_path, free_port())
    try:
        assert "Three things to try" in banner, banner
        assert banner.splitlines()[0] == (
            "make run: the sandbox supplies its own tenant, Teams, Azure and store settings, so it ignores "
            "AZURE_TENANT_ID, STORE, AZURE_STORAGE_ACCOUNT_URL from the environment and .env (`sre-consent-bot serve` uses them)"
        )
        assert f"BOT_SDK={os.environ.get('BOT_SDK', 'botbuilder')}" in banner  # which SDK adapter runs
        asked = _cli("driver", "say", "--as", "carol", "restart vm dev-01", "--wait", "10", cwd=tmp_path)
        assert "Awaiting approval" in asked.stdout, asked.stdout + asked.stderr
    finally:
        out = _stop(proc)
    assert proc.returncode == 0 and "Traceback" not in out, out


def test_a_restart_after_kill_9_shows_the_interrupted_plan_in_its_thread(tmp_path: Path) -> None:
    port = free_port()
    first, banner = _sandbox(tmp_path, port, "--operation-seconds", "600")
    try:
        connector = next(line for line in banner.splitlines() if "Bot Connector" in line)
        _cli("driver", "say", "--as", "carol", "restart vm dev-01", "--wait", "10", cwd=tmp_path)
        running = _cli("driver", "approve", "--as", "alice", "--wait", "5", cwd=tmp_path)
        assert "Running with the agent identity" in running.stdout, running.stdout + running.stderr
    finally:
        first.kill()  # SIGKILL: nothing is cleaned up, as after a crash
        first.communicate(timeout=30)
    second, banner = _sandbox(tmp_path, port)
    try:
        assert connector in banner, banner  # the same address: what the bot stored still points at it
        deadline, history = time.monotonic() + 120, ""
        while "Interrupted" not in history and time.monotonic() < deadline:
            history = _cli("driver", "watch", "--history", "--seconds", "1", cwd=tmp_path).stdout
        lines = history.splitlines()
        assert any("Awaiting approval" in line for line in lines), history  # the thread of the first run, kept
        assert any("(update" in line and "Interrupted" in line for line in lines), history  # its card, updated in place
    finally:
        _stop(second)


def _sandbox(cwd: Path, port: int, *options: str) -> tuple[subprocess.Popen[str], str]:
    """`sandbox` (what `make run` runs), read up to the line saying the bot listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--port", str(port), *options],
        cwd=cwd,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    banner = ""
    while not banner.splitlines()[-1:] or not banner.splitlines()[-1].startswith("listening on"):
        line = proc.stdout.readline()
        assert line or proc.poll() is None, banner
        banner += line
    return proc, banner

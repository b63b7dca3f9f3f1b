"""The command line as a new user meets it: `sandbox` (what `make run` runs), `driver`, `audit`, `check-config`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=env or _clean_env(), capture_output=True,
                          text=True, timeout=timeout)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_sandbox_starts_answers_help_through_the_driver_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "sandbox", "--port", str(port), "--operation-seconds", "0.2"],
                            cwd=tmp_path, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = ""
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while "Three things to try" not in banner and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            banner += line
        assert f"http://localhost:{port}/api/messages" in banner, banner
        for name in ("alice", "bob", "carol", "mallory"):
            assert name in banner
        endpoints = (tmp_path / ".sandbox" / "endpoints.json").read_text()
        assert '"ca"' in endpoints and '"tenantId"' in endpoints and '"objectId"' in endpoints
        helped = _cli("driver", "say", "--as", "carol", "help", "--wait", "1", cwd=tmp_path)
        assert helped.returncode == 0 and "restart vm" in helped.stdout, helped.stderr
        asked = _cli("driver", "say", "--as", "carol", "restart vm dev-01", "--wait", "1", cwd=tmp_path)
        assert "Awaiting approval" in asked.stdout, asked.stderr
        approved = _cli("driver", "approve", "--as", "alice", "--wait", "3", cwd=tmp_path)
        assert "Succeeded" in approved.stdout, approved.stdout + approved.stderr
        alerted = _cli("driver", "alert", "--rule", "High CPU on dev-01", "--vm", "dev-01", cwd=tmp_path)
        # the alert is stored at once (202) and processed by the bot's inbox worker: its plan shows up in the audit
        assert alerted.returncode == 0 and "HTTP 202" in alerted.stdout and '"accepted": true' in alerted.stdout, alerted.stderr
        assert "(secure webhook)" in alerted.stdout  # the default when the sandbox offers it
        deadline = time.monotonic() + 20
        audit = _cli("audit", cwd=tmp_path)
        while "response plan high-cpu" not in audit.stdout and time.monotonic() < deadline:
            audit = _cli("audit", cwd=tmp_path)
        assert "approval_given" in audit.stdout and "Alice Admin" in audit.stdout and "response plan high-cpu" in audit.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "sandbox stopped" in out


def test_driver_without_a_sandbox_says_what_to_do(tmp_path: Path) -> None:
    result = _cli("driver", "say", "help", cwd=tmp_path)
    assert result.returncode == 2 and "make run" in result.stderr


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({}, "AZURE_TENANT_ID is required"),
        ({"AZURE_TENANT_ID": "nope"}, "AZURE_TENANT_ID='nope' is invalid: expected a GUID"),
    ],
)
def test_bad_configuration_stops_with_one_clear_line(tmp_path: Path, env: dict[str, str], line: str) -> None:
    result = _cli("check-config", cwd=tmp_path, env={**_clean_env(), **env})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("configuration error: ") and line in lines[0]


def test_audit_on_a_missing_store_says_so(tmp_path: Path) -> None:
    result = _cli("audit", "--store", str(tmp_path / "none.sqlite3"), cwd=tmp_path)
    assert result.returncode == 2 and "no store" in result.stderr


SERVE_ENV = {"AZURE_TENANT_ID": "11111111-1111-1111-1111-111111111111",
             "DEFAULT_SUBSCRIPTION_ID": "00000000-0000-0000-0000-0000000000aa"}


def test_serve_without_an_app_id_refuses_to_start_naming_the_setting(tmp_path: Path) -> None:
    result = _cli("serve", cwd=tmp_path, env={**_clean_env(), **SERVE_ENV, "STORE_PATH": str(tmp_path / "s.sqlite3")})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "MicrosoftAppId is required" in lines[0] and "ANONYMOUS_ALLOWED=true" in lines[0]


def test_anonymous_serve_listens_on_loopback_only_and_warns(tmp_path: Path) -> None:
    port = _free_port()
    env = {**_clean_env(), **SERVE_ENV, "ANONYMOUS_ALLOWED": "true", "HOST": "0.0.0.0", "PORT": str(port),
           "STORE_PATH": str(tmp_path / "s.sqlite3")}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "anonymous serve did not start"
                time.sleep(0.1)
        listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
        local = {line.split()[3].rsplit(":", 1)[0] for line in listening.splitlines()}  # the local address column
        assert local == {"127.0.0.1"}, listening
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert "Bot Framework authentication is OFF" in err and '"level": "WARNING"' in err

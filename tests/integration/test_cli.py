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

from tests.net import free_port

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, env=env or _clean_env(), capture_output=True, text=True, timeout=timeout
    )


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _start_sandbox(cwd: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    """Start `sandbox` (what `make run` runs) and read its output up to the end of the banner."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--port", str(port), "--operation-seconds", "0.2"],
        cwd=cwd,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    banner = ""
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while "Three things to try" not in banner and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        banner += line
    return proc, banner


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    return out


def test_sandbox_starts_answers_help_through_the_driver_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    proc, banner = _start_sandbox(tmp_path, port)
    try:
        assert f"http://localhost:{port}/api/messages" in banner, banner
        for name in ("alice", "bob", "carol", "mallory"):
            assert name in banner
        endpoints = (tmp_path / ".sandbox" / "endpoints.json").read_text()
        assert '"ca"' in endpoints and '"tenantId"' in endpoints and '"objectId"' in endpoints
        helped = _cli("driver", "say", "--as", "carol", "help", "--wait", "10", cwd=tmp_path)
        assert helped.returncode == 0 and "restart vm" in helped.stdout, helped.stderr
        asked = _cli("driver", "say", "--as", "carol", "restart vm dev-01", "--wait", "10", cwd=tmp_path)
        assert "Awaiting approval" in asked.stdout, asked.stderr
        approved = _cli("driver", "approve", "--as", "alice", "--wait", "20", cwd=tmp_path)
        assert "bot answered 200 with the card" in approved.stdout and "Succeeded" in approved.stdout, approved.stdout
        alerted = _cli("driver", "alert", "--rule", "High CPU on dev-01", "--vm", "dev-01", cwd=tmp_path)
        assert alerted.returncode == 0 and "HTTP 202" in alerted.stdout, alerted.stderr
        assert "response plans matched: high-cpu" in alerted.stdout and "Awaiting approval" in alerted.stdout
        assert "{" not in alerted.stdout  # a summary, not the webhook's JSON
        assert "secure webhook" in alerted.stdout  # the default when the sandbox offers it
        audit = _cli("audit", cwd=tmp_path)
        assert "approval_given" in audit.stdout and "Alice Admin" in audit.stdout and "response plan high-cpu" in audit.stdout
    finally:
        out = _stop(proc)
    assert proc.returncode == 0 and "sandbox stopped" in out
    after = _cli("driver", "say", "help", cwd=tmp_path)
    assert after.returncode == 2 and after.stderr.strip() == "no sandbox is running: start it with make run"


def test_the_driver_prints_the_bots_own_answers_and_every_version_of_a_card(tmp_path: Path) -> None:
    proc, banner = _start_sandbox(tmp_path, free_port())
    try:
        assert "Three things to try" in banner, banner
        asked = _cli("driver", "say", "--as", "carol", "restart vm dev-01", "--chat", "ops", "--wait", "10", cwd=tmp_path)
        plan_id = asked.stdout.split("[plan ")[1].split("]")[0]
        # a plan in another conversation is not the target: the demo chat has none
        elsewhere = _cli("driver", "approve", "--as", "alice", cwd=tmp_path)
        assert elsewhere.returncode == 1 and "no plan card in chat sandbox-demo" in elsewhere.stderr
        # carol asked, so she may not approve: the bot's refusal is printed, not a guess of the driver
        own = _cli("driver", "approve", "--as", "carol", "--chat", "ops", "--wait", "5", cwd=tmp_path)
        assert "bot answered 200: " in own.stdout and "someone else has to approve it" in own.stdout, own.stdout + own.stderr
        denied = _cli("driver", "deny", "--as", "alice", "--chat", "ops", "--reason", "change freeze", "--wait", "10", cwd=tmp_path)
        assert "Denied" in denied.stdout and "change freeze" in denied.stdout, denied.stdout + denied.stderr
        late = _cli("driver", "approve", "--as", "bob", "--plan", plan_id, "--wait", "5", cwd=tmp_path)
        assert f"on plan {plan_id}" in late.stdout and "bot answered 200: " in late.stdout, late.stdout + late.stderr
        history = _cli("driver", "watch", "--plan", plan_id, "--history", "--seconds", "0.5", cwd=tmp_path)
        lines = [line for line in history.stdout.splitlines() if f"[plan {plan_id}]" in line]
        assert "Awaiting approval" in lines[0] and "Denied" in lines[-1] and "(update 1)" in lines[-1], history.stdout
        playground = _cli("driver", "say", "--as", "carol", "--playground", "help", cwd=tmp_path)  # the Playground cannot sign
        assert playground.returncode == 2 and "--anonymous" in playground.stderr, playground.stdout + playground.stderr
    finally:
        _stop(proc)


def test_the_readme_walk_through_of_a_plan_asked_in_a_personal_chat(tmp_path: Path) -> None:
    """README, "Ask in a personal chat": make run's settings have an approvals channel in the sandbox's team."""
    proc, banner = _start_sandbox(tmp_path, free_port())
    try:
        assert "Three things to try" in banner, banner
        installed = _cli("driver", "install", "--as", "alice", cwd=tmp_path)
        assert installed.returncode == 0 and "installed for alice" in installed.stdout, installed.stdout + installed.stderr
        asked = _cli("driver", "say", "--personal", "--as", "carol", "restart vm dev-01", "--wait", "10", cwd=tmp_path)
        assert "approvals channel" in asked.stdout, asked.stdout + asked.stderr
        approved = _cli("driver", "approve", "--approvals", "--as", "alice", "--wait", "10", cwd=tmp_path)
        assert approved.returncode == 0, approved.stdout + approved.stderr
        told = _cli("driver", "watch", "--personal", "--as", "carol", "--history", "--seconds", "3", cwd=tmp_path)
        assert "approved by Alice Admin" in told.stdout, told.stdout + told.stderr
    finally:
        _stop(proc)


def test_a_second_sandbox_refuses_to_start_and_leaves_the_first_working(tmp_path: Path) -> None:
    port = free_port()
    first, banner = _start_sandbox(tmp_path, port)
    try:
        assert "Three things to try" in banner, banner
        endpoints = (tmp_path / ".sandbox" / "endpoints.json").read_bytes()
        for second_port in (port, free_port()):
            second = _cli("sandbox", "--port", str(second_port), cwd=tmp_path)
            assert second.returncode != 0 and "sandbox is up" not in second.stdout, second.stdout
            assert second.stderr.strip() == (
                f"a sandbox is already running (pid {first.pid}, bot on "
                f"http://localhost:{port}/api/messages); stop it with Ctrl-C in its terminal"
            )
        assert (tmp_path / ".sandbox" / "endpoints.json").read_bytes() == endpoints
        helped = _cli("driver", "say", "--as", "carol", "help", "--wait", "10", cwd=tmp_path)
        assert helped.returncode == 0 and "restart vm" in helped.stdout, helped.stderr
    finally:
        _stop(first)
    assert first.returncode == 0


def test_a_sandbox_on_a_port_in_use_says_so_before_anything_else(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = _cli("sandbox", "--port", str(taken.getsockname()[1]), cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == "" and "already in use" in result.stderr
    assert not (tmp_path / ".sandbox" / "endpoints.json").exists()


def test_driver_without_a_sandbox_says_what_to_do(tmp_path: Path) -> None:
    result = _cli("driver", "say", "help", cwd=tmp_path)
    assert result.returncode == 2 and "make run" in result.stderr


def test_bad_configuration_lists_every_problem_one_line_each(tmp_path: Path) -> None:
    env = {**_clean_env(), "AZURE_TENANT_ID": "nope", "PORT": "abc", "APPROVALS_REQUIRED": "0"}
    result = _cli("check-config", cwd=tmp_path, env=env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "configuration error: AZURE_TENANT_ID='nope' is invalid: expected a GUID like 00000000-0000-0000-0000-000000000000",
        "configuration error: DEFAULT_SUBSCRIPTION_ID is required: subscription searched by chat commands that name a VM",
        "configuration error: PORT='abc' is invalid: expected a whole number",
        "configuration error: APPROVALS_REQUIRED='0' is invalid: expected at least 1",
        # what only a running bot needs is listed with the rest, not after they are fixed
        "configuration error: MicrosoftAppId is required to serve: without it anyone could post activities as anyone "
        "(set ANONYMOUS_ALLOWED=true only for a local client such as the Agents Playground)",
        "configuration error: DEFAULT_APPROVERS or APPROVER_GROUP_ID is required: with neither, nobody could approve a plan "
        "(expected comma-separated Entra object ids, or an Entra group id)",
    ]


def test_dot_env_problems_are_listed_like_the_environments(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "AZURE_TENANT_ID=contoso\nDEFAULT_SUBSCRIPTION_ID=00000000-0000-0000-0000-0000000000aa\nPLAN_EXPIRY_MINUTES=soon\n"
    )
    result = _cli("check-config", cwd=tmp_path, env={**_clean_env(), "LOG_LEVEL": "loud"})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 5, result.stderr
    named = [line.split(": ")[1].split("=")[0].split(" ")[0] for line in lines]
    assert named == ["AZURE_TENANT_ID", "PLAN_EXPIRY_MINUTES", "LOG_LEVEL", "MicrosoftAppId", "DEFAULT_APPROVERS"]


@pytest.mark.parametrize("command", ["check-config", "serve", "sandbox"])
def test_a_bad_port_is_one_line_for_every_command(tmp_path: Path, command: str) -> None:
    result = _cli(command, cwd=tmp_path, env={**_clean_env(), **SERVE_ENV, "PORT": "abc"})
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "configuration error: PORT='abc' is invalid: expected a whole number" in result.stderr
    assert not (tmp_path / ".sandbox" / "endpoints.json").exists()


def test_valid_configuration_is_printed_by_setting_name_with_secrets_masked(tmp_path: Path) -> None:
    env = {
        **_clean_env(),
        **SERVE_ENV,
        "MicrosoftAppId": "22222222-2222-2222-2222-222222222222",
        "MicrosoftAppPassword": "not-a-real-secret",
        "DEFAULT_APPROVERS": "33333333-3333-3333-3333-333333333333,44444444-4444-4444-4444-444444444444",
        "STORE_PATH": str(tmp_path / "s.sqlite3"),
    }
    result = _cli("check-config", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    shown = [line.strip() for line in result.stdout.splitlines()[1:]]
    for line in (
        "PORT=3978",
        "PLAN_EXPIRY_MINUTES=30",
        "MicrosoftAppPassword=(set)",
        "AZURE_CLIENT_SECRET=(not set)",
        "DEFAULT_APPROVERS=33333333-3333-3333-3333-333333333333,44444444-4444-4444-4444-444444444444",
    ):
        assert line in shown, result.stdout
    assert "not-a-real-secret" not in result.stdout and "frozenset" not in result.stdout and "timedelta" not in result.stdout


def test_a_policy_no_one_can_satisfy_does_not_start(tmp_path: Path) -> None:
    env = {
        **_clean_env(),
        **SERVE_ENV,
        "MicrosoftAppId": "22222222-2222-2222-2222-222222222222",
        "MicrosoftAppPassword": "x",
        "DEFAULT_APPROVERS": "33333333-3333-3333-3333-333333333333",
        "APPROVALS_REQUIRED": "3",
        "STORE_PATH": str(tmp_path / "s.sqlite3"),
    }
    for command in ("check-config", "serve"):
        result = _cli(command, cwd=tmp_path, env=env)
        assert result.returncode == 2 and "APPROVALS_REQUIRED=3 is invalid" in result.stderr, result.stderr


def test_audit_on_a_missing_store_says_so(tmp_path: Path) -> None:
    result = _cli("audit", "--store", str(tmp_path / "none.sqlite3"), cwd=tmp_path)
    assert result.returncode == 2 and "no store" in result.stderr


SERVE_ENV = {
    "AZURE_TENANT_ID": "11111111-1111-1111-1111-111111111111",
    "DEFAULT_SUBSCRIPTION_ID": "00000000-0000-0000-0000-0000000000aa",
    "DEFAULT_APPROVERS": "33333333-3333-3333-3333-333333333333",
}


def test_serve_without_an_app_id_refuses_to_start_naming_the_setting(tmp_path: Path) -> None:
    result = _cli("serve", cwd=tmp_path, env={**_clean_env(), **SERVE_ENV, "STORE_PATH": str(tmp_path / "s.sqlite3")})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "MicrosoftAppId is required" in lines[0] and "ANONYMOUS_ALLOWED=true" in lines[0]


def test_anonymous_serve_listens_on_loopback_only_and_warns(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **_clean_env(),
        **SERVE_ENV,
        "ANONYMOUS_ALLOWED": "true",
        "HOST": "0.0.0.0",
        "PORT": str(port),
        "STORE_PATH": str(tmp_path / "s.sqlite3"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
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


def test_audit_is_an_aligned_table_with_time_zones_and_cells_that_never_spill() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from bot.audit_table import table
    from bot.domain.audit import AuditEvent

    paris = timezone(timedelta(hours=1))
    events = [
        AuditEvent(
            datetime(2026, 11, 25, 10, 8, 7, tzinfo=paris),
            "p-81d417a74443",
            "x",
            "A name far longer than its column",
            "credentials_requested",
            "executing",
            "awaiting_credentials",
            {"reason": "word " * 40},
        ),
        AuditEvent(datetime(2026, 11, 25, 9, 9, 0, tzinfo=UTC), None, "system", "the bot", "sweep"),
    ]
    lines = table(events, columns=200)
    starts = [lines[0].index(h) for h in ("PLAN", "ACTOR", "EVENT", "STATE", "DETAIL")]
    rows = [line for line in lines[1:] if not line.startswith(" ")]
    assert rows[0].startswith("2026-11-25 09:08:07 UTC") and rows[1].startswith("2026-11-25 09:09:00 UTC")
    for row in rows:
        assert all(row[s - 2 : s] == "  " for s in starts if s < len(row)), row  # every column starts where its header does
    assert "A name far longer than …" in rows[0] and "awaiting_credentials" in rows[0]
    assert len(lines) > 3 and all(len(line) <= 200 for line in lines)  # the long detail wraps under its column
    assert all(line[: starts[-1]].strip() == "" for line in lines[2:-1])

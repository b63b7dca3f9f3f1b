"""The figures of one `make bench` run as docs/benchmarks.md shows them: the comparison table (ratios only against
rows that failed nothing), the goals of issue 27 met or not with their ratios, and the run's conditions."""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

from .loads import Result
from .processes import BASELINES

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
HELP, CLICK, APPROVE = "`help`", "card click", "Approve"


@dataclass
class Goal:
    what: str
    target: str
    measured: str
    met: bool | None  # None: not measured in this run (its sizes or stores left it out)


def baseline_of(results: list[Result], load: str, kind: str) -> Result | None:
    """The baseline row `load` compares with: the same load for messages, the echoes' card clicks for Approve."""
    wanted = HELP if load == HELP else CLICK
    return next((r for r in results if r.load == wanted and r.server == BASELINES[kind]), None)


def ratio(r: Result, base: Result | None) -> str:
    """`r` as a multiple of `base`; none against a row with failures (or of a row with failures)."""
    if base is None or base.failed or r.failed or not base.per_second:
        return "-"
    return f"{r.per_second / base.per_second:.2f}x"


def table(results: list[Result]) -> str:
    rows = [
        "| load | server | requests | concurrent | req/s | p50 ms | p95 ms | p99 ms | failed | vs floor | vs stock botbuilder | "
        "vs stock Agents SDK |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratios = " | ".join(ratio(r, baseline_of(results, r.load, kind)) for kind in BASELINES)
        rows.append(
            f"| {r.load} | {r.server} | {r.count} | {r.concurrency} | {r.per_second:.0f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | "
            f"{r.p99_ms:.1f} | {r.failed} | {ratios} |"
        )
    return "\n".join(rows)


def goals_table(goals: list[Goal]) -> str:
    rows = ["| goal | target | this run | met |", "|---|---|---|---|"]
    for g in goals:
        met = "not measured" if g.met is None else ("**met**" if g.met else "**not met**")
        rows.append(f"| {g.what} | {g.target} | {g.measured} | {met} |")
    return "\n".join(rows)


def _find(results: list[Result], load: str, server: str) -> Result | None:
    return next((r for r in results if r.load == load and r.server == server), None)


def turn_goals(results: list[Result], sdks: list[str], stores: list[str]) -> list[Goal]:
    """`help` and Approve, on the slower of the SDK adapters (the goal must hold for both)."""
    floor, stock, agents = (baseline_of(results, HELP, k) for k in BASELINES)
    clicks_agents = baseline_of(results, CLICK, "agents")
    goals: list[Goal] = []
    helps = [r for sdk in sdks if (r := _find(results, HELP, f"this bot, BOT_SDK={sdk}"))]
    if helps and floor and stock and agents:
        slow = min(helps, key=lambda r: r.per_second)
        goals.append(
            Goal(
                "`help`, slower adapter",
                "≥ 1.0x stock Agents SDK, ≥ 0.5x floor, p99 below both stock echoes'",
                f"{slow.server.split(', ')[-1]}: {slow.per_second / agents.per_second:.2f}x Agents SDK, "
                f"{slow.per_second / floor.per_second:.2f}x floor, p99 {slow.p99_ms:.0f} ms vs {stock.p99_ms:.0f} / {agents.p99_ms:.0f} ms",
                slow.per_second >= agents.per_second
                and slow.per_second >= 0.5 * floor.per_second
                and slow.p99_ms < min(stock.p99_ms, agents.p99_ms)
                and not any(r.failed for r in helps),
            )
        )
    approves = {
        (sdk, store): r for sdk in sdks for store in stores if (r := _find(results, APPROVE, f"this bot, BOT_SDK={sdk}, STORE={store}"))
    }
    sqlite = [r for (_, store), r in approves.items() if store == "sqlite"]
    if sqlite and clicks_agents:
        slow = min(sqlite, key=lambda r: r.per_second)
        goals.append(
            Goal(
                "Approve on SQLite, slower adapter",
                "≥ 1.0x the stock Agents SDK echo's card clicks at the same concurrency",
                f"{slow.server.split(', ')[1]}: {slow.per_second:.0f}/s, {slow.per_second / clicks_agents.per_second:.2f}x",
                slow.per_second >= clicks_agents.per_second and not any(r.failed for r in sqlite),
            )
        )
    pairs = [
        (approves[(sdk, "azure-tables")], approves[(sdk, "sqlite")])
        for sdk in sdks
        if (sdk, "azure-tables") in approves and (sdk, "sqlite") in approves
    ]
    if pairs:
        worst = min(pairs, key=lambda p: p[0].per_second / p[1].per_second)
        goals.append(
            Goal(
                "Approve on Azure Tables (Azurite)",
                "≥ 0.5x the same adapter's Approve on SQLite",
                f"{worst[0].server.split(', ')[1]}: {worst[0].per_second:.0f}/s vs {worst[1].per_second:.0f}/s, "
                f"{worst[0].per_second / worst[1].per_second:.2f}x",
                worst[0].per_second >= 0.5 * worst[1].per_second and not worst[0].failed,
            )
        )
    return goals


def machine() -> str:
    cpu = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("model name")), platform.processor() or "unknown CPU"
    )
    system = f"{platform.system()} {platform.release()}"
    return f"{platform.machine()}, {os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {system}"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (the run shares its 2 cores with other engineers' jobs)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "unknown"


def write(text: str) -> None:
    old = OUT.read_text() if OUT.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    section = f"{BEGIN}\n{text}\n{END}"
    new = pattern.sub(lambda _: section, old) if pattern.search(old) else f"# Benchmarks\n\n{section}\n\n{old.partition(chr(10))[2]}"
    OUT.write_text(new)

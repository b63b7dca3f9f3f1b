"""Where a turn's time goes: stdlib cProfile on the bot's event loop while a `make bench` load runs.

`python -m tests.bench.profile` (also run by `make bench`) starts the bot in this process on a thread of its own
(tests/integration/harness.py), enables cProfile on that thread only (the load client and the sandbox run on
others), runs one load, and writes the functions that took the most time (own time, with their share of all the
profiled time, and cumulative time) to the "Profile" section of docs/benchmarks.md.

BENCH_PROFILE lists the loads: `sdk:store:load` separated by commas (load: help or approve); by default the two
slowest paths of the last run. Profiling slows every call (roughly twice): the shares count, not the times.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import re
import time
from typing import Any

from . import __main__ as bench
from . import loads, report
from .approve import bench_world, plans_to_approve
from .loads import Chats, Replies
from .processes import ROOT, bench_settings

PROFILES = os.environ.get("BENCH_PROFILE", "agents:sqlite:help,botbuilder:azure-tables:approve")
COUNT = int(os.environ.get("BENCH_PROFILE_COUNT", "200"))
TOP = 15
BEGIN, END = "<!-- profile:begin -->", "<!-- profile:end -->"


def _short(func: tuple[str, int, str]) -> str:
    path, line, name = func
    for marker in ("site-packages/", "/work/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"`{name}` ({path}:{line})" if line else f"`{name}` (built-in)"


def _table(profile: cProfile.Profile) -> tuple[str, float]:
    stats = pstats.Stats(profile)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, tt, _, _) in raw.values())
    rows = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:TOP]
    lines = ["| function | calls | own s | own share | cumulative s |", "|---|---|---|---|---|"]
    for func, (_, calls, tt, ct, _) in rows:
        lines.append(f"| {_short(func)} | {calls} | {tt:.2f} | {tt / total:.1%} | {ct:.2f} |")
    by_cum = sorted(
        ((f, v) for f, v in raw.items() if "/bot/" in f[0] or "botbuilder" in f[0] or "microsoft_agents" in f[0]),
        key=lambda kv: kv[1][3],
        reverse=True,
    )[:TOP]
    lines += ["", "| our code and the SDK, by cumulative time | calls | cumulative s | share of the loop's time |", "|---|---|---|---|"]
    for func, (_, calls, _, ct, _) in by_cum:
        lines.append(f"| {_short(func)} | {calls} | {ct:.2f} | {ct / total:.1%} |")
    return "\n".join(lines), total


async def _load(box: Any, running: Any, sdk: str, store: str, load: str, approvers: list[Any]) -> Any:
    name = f"profile {sdk}/{store}"
    profile = cProfile.Profile()

    async def on() -> None:
        profile.enable()  # this thread only: the bot's event loop

    async def off() -> None:
        profile.disable()

    async with box.driver(running.messages_url) as driver:
        if load == "help":
            chats, replies = Chats(f"profile-{sdk}-{store}"), Replies(box)
            await loads.messages("warm-up", name, chats.messages(driver, approvers, 20), driver, replies, 10)
            running.thread.call(on)
            started = time.perf_counter()
            result = await loads.messages(load, name, chats.messages(driver, approvers, COUNT), driver, replies, bench.SENDERS)
        else:
            clicks = await plans_to_approve(box, running.messages_url, f"profile-{sdk}-{store}", approvers)
            running.thread.call(on)
            started = time.perf_counter()
            result = await loads.clicks(load, name, clicks, driver, len(approvers))
        running.thread.call(off)
    return profile, result, time.perf_counter() - started


def main() -> None:
    from sandbox import Sandbox
    from tests.azurite import Azurite
    from tests.integration.harness import bot_settings, start_bot

    world, approvers = bench_world(min(COUNT, bench.APPROVERS))
    box = Sandbox.start(bench._TMP, tls=bench._TLS, operation_seconds=0.05, world=world)
    box.connector.limits.per_app = False  # as in the bench's turn-rate loads (processes.bench_settings)
    targets = [p.split(":") for p in PROFILES.split(",") if p]
    azurite = Azurite.start() if any(store == "azure-tables" for _, store, _ in targets) else None
    sections = []
    try:
        for sdk, store, load in targets:
            overrides = bench_settings(sdk, store, azurite, approvers, prefix="prof")
            running = start_bot(bot_settings(box, bench._TMP / f"profile-{sdk}-{store}.sqlite3", **overrides))
            try:
                profile, result, _ = asyncio.run(_load(box, running, sdk, store, load, approvers))
            finally:
                running.stop()
            table, total = _table(profile)
            profile.dump_stats(bench._TMP / f"profile-{sdk}-{store}-{load}.pstats")  # for `python -m pstats`
            sections.append(
                f"### {'`help`' if load == 'help' else 'Approve'} on BOT_SDK={sdk}, STORE={store}\n\n"
                f"{result.count} requests at concurrency {result.concurrency} under the profiler "
                f"({result.per_second:.0f}/s, p99 {result.p99_ms:.0f} ms, {result.failed} failed); "
                f"{total:.1f} s of the bot loop's time profiled.\n\n{table}\n"
            )
            print(sections[-1])
    finally:
        if azurite:
            azurite.stop()
        box.stop()
    text = f"""{BEGIN}
## Profile: where the time goes

`python -m tests.bench.profile` (part of `make bench`; BENCH_PROFILE={PROFILES}): cProfile on the bot's event-loop
thread only, the bot in the bench process, the load as in the table above. "Own" time is spent in the function
itself; "cumulative" includes what it calls (and, for coroutines, counts each resumption).

{chr(10).join(sections)}
{END}"""
    old = report.OUT.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    new = pattern.sub(lambda _: text, old) if pattern.search(old) else old.replace(report.END, report.END + "\n\n" + text, 1)
    report.OUT.write_text(new)


if __name__ == "__main__":
    main()

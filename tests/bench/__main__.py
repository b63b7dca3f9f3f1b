"""`make bench`: this bot's turn cost as ratios against baselines measured in the same run.

Three servers answer the same Teams-shaped messages, each sending one reply to the same Bot
Connector simulator: a bare aiohttp echo (the floor: HTTP in, HTTP out), the stock botbuilder
echo bot on CloudAdapter (the baseline every Python Teams bot starts from), and this bot answering
`help` on each of its Teams SDK adapters (botbuilder and the Microsoft 365 Agents SDK). This bot's card
refresh invokes (store read, card render, invoke response) are measured
too. Figures go to docs/benchmarks.md; ratios, not absolute times, are what carry across machines.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sandbox.tls import SandboxTLS

_TLS = SandboxTLS.create(Path(tempfile.mkdtemp(prefix="sre-consent-bench-")))
os.environ["SSL_CERT_FILE"] = os.environ["REQUESTS_CA_BUNDLE"] = str(_TLS.ca_path)  # before aiohttp is imported

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from botbuilder.core import ActivityHandler, TurnContext  # noqa: E402
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication  # noqa: E402

from sandbox import Sandbox  # noqa: E402
from sandbox.driver import TeamsDriver  # noqa: E402
from sandbox.server import ServerThread  # noqa: E402
from tests.integration.harness import bot_settings, find_action, start_bot  # noqa: E402

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "400"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
OUT = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"


@dataclass
class Result:
    name: str
    per_second: float
    p50_ms: float
    p95_ms: float


def _floor_app() -> web.Application:
    session: dict[str, aiohttp.ClientSession] = {}

    async def handle(request: web.Request) -> web.Response:
        activity = await request.json()
        if "s" not in session:
            session["s"] = aiohttp.ClientSession()
        url = f"{activity['serviceUrl']}/v3/conversations/{activity['conversation']['id']}/activities/{activity['id']}"
        async with session["s"].post(url, json={"type": "message", "text": activity.get("text", "")}) as r:
            await r.read()
        return web.Response(status=201)

    async def close(app: web.Application) -> None:
        if "s" in session:
            await session["s"].close()

    app = web.Application()
    app.router.add_post("/api/messages", handle)
    app.on_cleanup.append(close)
    return app


class _Echo(ActivityHandler):
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(turn_context.activity.text)


class _NoAuth:
    APP_ID = None
    APP_PASSWORD = None
    APP_TYPE = "MultiTenant"
    APP_TENANTID = None


def _stock_app() -> web.Application:
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(_NoAuth()))
    bot = _Echo()

    async def handle(request: web.Request) -> web.Response:
        return await adapter.process(request, bot) or web.Response(status=201)

    app = web.Application()
    app.router.add_post("/api/messages", handle)
    return app


async def _load(name: str, make: object, count: int = REQUESTS) -> Result:
    latencies: list[float] = []
    queue = list(range(count))

    async def worker() -> None:
        while queue:
            queue.pop()
            activity = make()  # type: ignore[operator]
            started = time.perf_counter()
            async with session.post(activity.pop("__url"), json=activity) as r:
                await r.read()
                assert r.status < 300, (name, r.status)
            latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(name, count / elapsed, statistics.median(latencies) * 1000, latencies[int(len(latencies) * 0.95)] * 1000)


SDKS = ("botbuilder", "agents")  # this bot on each Teams SDK adapter (BOT_SDK)


async def _run(box: Sandbox, tmp: Path) -> list[Result]:
    servers = ServerThread("bench-baselines")
    floor_url = f"http://127.0.0.1:{servers.serve(_floor_app())}/api/messages"
    stock_url = f"http://127.0.0.1:{servers.serve(_stock_app())}/api/messages"
    bots = {sdk: start_bot(bot_settings(box, tmp / f"bench-{sdk}.sqlite3", LOG_LEVEL="WARNING", BOT_SDK=sdk)) for sdk in SDKS}
    carol, alice = box.world.user("carol"), box.world.user("alice")

    def message(driver: TeamsDriver, url: str, text: str, chat: object) -> object:
        def make() -> dict[str, object]:
            return {**driver.message(carol, text, chat), "__url": url}  # type: ignore[arg-type]
        return make

    try:
        loads: list[tuple[str, object]] = []
        for sdk, bot in bots.items():
            chat = TeamsDriver.group_chat(box.world.home_tenant_id, f"bench-{sdk}")
            driver = box.driver(bot.messages_url)
            async with driver:
                await driver.say(carol, "restart vm dev-01", chat)
                card = await driver.wait_for(lambda m: m.card is not None, conversation_id=chat.id)
            refresh = find_action(card.card, "refresh")

            def invoke(driver: TeamsDriver = driver, chat: object = chat, card: object = card, bot: object = bot,
                       refresh: object = refresh) -> dict[str, object]:
                return {**driver.invoke(alice, chat, chat.id, card.id, "refresh", dict(refresh or {})),  # type: ignore[attr-defined,arg-type]
                        "__url": bot.messages_url}  # type: ignore[attr-defined]

            loads += [(f"this bot on {sdk} (BOT_SDK={sdk}): `help` message", message(driver, bot.messages_url, "help", chat)),
                      (f"this bot on {sdk} (BOT_SDK={sdk}): card refresh invoke", invoke)]
        warm_chat = TeamsDriver.group_chat(box.world.home_tenant_id, "bench-warm")
        any_driver = box.driver(bots["botbuilder"].messages_url)
        for warm in (message(any_driver, floor_url, "warm", warm_chat), message(any_driver, stock_url, "warm", warm_chat),
                     *(make for _, make in loads)):
            await _load("warm-up", warm, 20)
        return [
            await _load("bare aiohttp echo (floor)", message(any_driver, floor_url, "help", warm_chat)),
            await _load("stock botbuilder echo on CloudAdapter (baseline)", message(any_driver, stock_url, "help", warm_chat)),
            *[await _load(name, make) for name, make in loads],
        ]
    finally:
        for bot in bots.values():
            bot.stop()
        servers.stop()


def main() -> None:
    box = Sandbox.start(_TLS.ca_path.parent, tls=_TLS, operation_seconds=0.05)
    try:
        results = asyncio.run(_run(box, _TLS.ca_path.parent))
    finally:
        box.stop()
    baseline = results[1].per_second
    rows = [f"| {r.name} | {r.per_second:.0f} | {r.per_second / baseline:.2f}x | {r.p50_ms:.1f} | {r.p95_ms:.1f} |" for r in results]
    table = "\n".join(["| server | requests/s | vs stock echo | p50 ms | p95 ms |", "|---|---|---|---|---|", *rows])
    print(table)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(f"""# Benchmarks

`make bench` (`python -m tests.bench`): {REQUESTS} requests per server at concurrency {CONCURRENCY}, all in
one run on one machine, every server replying through the same loopback Bot Connector simulator
(HTTPS). Compare the ratios, not the absolute numbers: the client, the simulators and the servers
share the machine's cores.

Last run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine}.

{table}

- **floor**: a bare aiohttp handler that posts the reply itself; no Bot Framework code at all.
- **baseline**: botbuilder's own echo bot on `CloudAdapter`, which builds new connector and token
  clients on every turn (measured: docs/benchmarks.md).
- **this bot, `help`**: the full adapter path (authentication, turn context, command parsing, reply), on each
  Teams SDK adapter: botbuilder with connector clients built once per service URL and reused
  (`bot/adapters/teams/auth.py`); the Microsoft 365 Agents SDK (`BOT_SDK=agents`) with its AgentApplication,
  the connector over kept sessions (`bot/adapters/agents/connector.py`) and the SDK's own token client per turn.
- **this bot, refresh invoke**: what each approver's Teams client asks when a card is shown: a
  store read, the card rendered for that person, the invoke response; no outbound call.
""")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
    from .alerts import main as alerts

    alerts()  # 5,000 alerts through the inbox: its own section of docs/benchmarks.md

"""What a failing fuzz run prints must carry no secret: Hypothesis prints every argument of a falsifying example,
pytest fixtures included (the sandbox, the running bot, the Teams driver), with its own pretty printer. That
printer shows every field of a dataclass and ignores `field(repr=False)`; it honours `_repr_pretty_`, the IPython
protocol, which the classes holding secrets define to print their own repr (where those fields stay hidden).
Seen before this test: the sandbox apps' client secrets, the bot's client secrets and webhook secret, and every
channel token the sandbox had signed, in CI output."""

from __future__ import annotations

from hypothesis.vendor.pretty import pretty

from sandbox import Sandbox
from sandbox.driver import TeamsDriver

from ..integration.harness import RunningBot
from .guard import settle
from .test_fuzz_http import AgentToken


async def test_a_falsifying_example_prints_no_secret_nor_token(sandbox: Sandbox, bot: RunningBot, driver: TeamsDriver) -> None:
    carol = sandbox.world.user("carol")
    result = await driver.post(driver.message(carol, "help", TeamsDriver.group_chat(carol.tenant_id, "fuzz-reports")))
    assert result.status < 300
    await settle(bot)  # the bot's reply went out: it holds a token for the Connector, the channel signed one
    settings = bot.container.settings
    tokens = [*sandbox.entra.issued, *sandbox.channel.issued]
    assert sandbox.channel.issued and sandbox.entra.issued, "the exchange should have minted tokens"
    secrets = {
        **{f"app {name} secret": app.secret for name, app in sandbox.world.apps.items()},
        "webhook secret": sandbox.webhook_secret,
        "MicrosoftAppPassword": settings.teams.app_password,
        "AZURE_CLIENT_SECRET": settings.azure.agent_client_secret,
        "SSO_CLIENT_SECRET": settings.teams.sso_client_secret,
        "INCIDENT_WEBHOOK_SECRET": settings.api.incident_webhook_secret,
        **{f"token {i}": t for i, t in enumerate(tokens)},
        **{f"token {i} signature": t.rsplit(".", 1)[1] for i, t in enumerate(tokens)},
    }
    agent = AgentToken(tokens[0])
    objects = {"sandbox": sandbox, "bot": bot, "driver": driver, "settings": settings, "agent token": agent}
    # pytest shows fixtures with repr (cut short) in a traceback, Hypothesis with its pretty printer (in full)
    printed = {f"{how} {name}": show(x) for name, x in objects.items() for how, show in (("pretty", pretty), ("repr", repr))}
    assert all(len(text) > 10 for text in printed.values()), printed  # they still say what the objects are
    leaks = [(name, what) for name, text in printed.items() for what, value in secrets.items() if value and value in text]
    assert not leaks

"""A message Teams refuses for good ends as a visible dead letter, never silently dropped."""

from __future__ import annotations

from typing import Any

import aiohttp

from sandbox import Sandbox
from sandbox.driver import Conversation

from .harness import RunningBot, Teams


async def test_a_card_update_teams_refuses_is_a_dead_letter_in_readyz_metrics_and_audit(
    make_bot: Any, chat: Conversation, sandbox: Sandbox
) -> None:
    bot: RunningBot = make_bot(METRICS_PORT="0")
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        card = await teams.ask("carol", "restart vm dev-01", chat)
        await bot.settled()
        sandbox.connector.activities[card.id].deleted = True  # someone deleted the card in Teams: updates get 404
        await teams.click("alice", chat, card, "deny")
        await bot.settled()
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{bot.url}/readyz") as r:  # public: says which check failed, nothing more
                assert r.status == 200 and (await r.json())["checks"]["outbox"] == "failed"
            async with session.get(str(bot.container.readiness_url)) as r:  # the operators' detail
                ready = await r.json()
        assert r.status == 200 and ready["checks"]["outbox_dead_letters"] == 1 and "could not be delivered" in ready["checks"]["outbox"]
        assert bot.container.metrics.registry.get_sample_value("sre_consent_outbox_dead_letters") == 1
        dead = [e for e in await bot.container.store.events() if e.event == "outbox_dead_letter"]
        assert len(dead) == 1 and dead[0].detail["kind"] == "update_card" and dead[0].detail["error"] == "HTTP 404"
        await teams.wait_reply(card, "Denied")  # the rest of the thread's messages still go out

"""A conversation flooded past Teams' rate limits, which the sandbox enforces as Microsoft documents them
(https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit): every turn still ends well, and every
answer the bot owes arrives, the outbox trying again after Teams' `Retry-After`."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sandbox import Sandbox
from sandbox.driver import Conversation, TeamsDriver
from sandbox.world import Channel

from .harness import ManualClock, RunningBot, eventually

TOO_FAST = "You are sending commands faster than I can safely act on them; wait a minute and try again. Nothing was done."
ACCEPTED = 10  # RATE_LIMIT_CONVERSATION_PER_MINUTE: the commands the bot takes; the rest get TOO_FAST in the turn


async def test_a_flood_past_teams_limits_gets_no_5xx_and_every_answer_owed_arrives(
    sandbox: Sandbox, chat: Conversation, make_bot: Any
) -> None:
    # the bot's own minute stands still (the clock it rate-limits on), so exactly ACCEPTED commands are taken
    bot: RunningBot = make_bot(clock=ManualClock(), RATE_LIMIT_CONVERSATION_PER_MINUTE=str(ACCEPTED))
    people = [sandbox.world.user(name) for name in ("carol", "alice", "bob")]
    asked: list[dict[str, Any]] = []
    sandbox.connector.forget_limits()  # `limited` counts this test's refusals only
    async with sandbox.driver(bot.messages_url) as d:
        # waves of 20 messages at once (`say` fails on any answer but 2xx), until Teams has answered the bot 429
        for _ in range(10):
            asked += await asyncio.gather(*(d.say(people[i % 3], "help", chat) for i in range(20)))
            if sandbox.connector.limited:
                break
        assert sandbox.connector.limited, "the flood never went past Teams' limits"

        async def answered() -> bool:
            replies = [m for m in await d.bot_messages(chat.id) if m.reply_to_id and m.text != TOO_FAST]
            return len(replies) >= ACCEPTED

        await eventually(answered, f"the {ACCEPTED} commands taken are all answered", timeout=90)
        await bot.settled(timeout=60)
        messages = await d.bot_messages(chat.id)
    answers = [m for m in messages if m.text != TOO_FAST]
    ids = {a["id"] for a in asked}
    assert len(answers) == ACCEPTED and {m.reply_to_id for m in answers} <= ids  # once each, each a reply to a command
    assert len({m.reply_to_id for m in answers}) == ACCEPTED
    refusals = [m for m in messages if m.text == TOO_FAST]
    assert len(refusals) <= len(asked) - ACCEPTED  # a TOO_FAST Teams refused is dropped, never sent twice
    assert not [e for e in await bot.container.store.events() if e.event == "outbox_dead_letter"]  # nothing given up


async def test_a_member_lookup_teams_refuses_429_is_asked_again_after_retry_after_and_the_command_is_answered(
    sandbox: Sandbox, chat: Conversation, make_bot: Any
) -> None:
    """In a busy channel Teams answers the member lookup 429 (14 a second per thread): the person is not told "I could
    not confirm who you are" for Teams' being busy; the bot waits Retry-After and asks again."""
    bot: RunningBot = make_bot()
    carol = sandbox.world.user("carol")
    sandbox.connector.throttle(5, retry_after=1)  # the next calls, the turn's member lookup and its own retries, are refused 429
    async with sandbox.driver(bot.messages_url) as d:
        asked = await d.say(carol, "help", chat)

        async def answered() -> bool:
            return any(m.reply_to_id == asked["id"] for m in await d.bot_messages(chat.id))

        await eventually(answered, "the help command is answered", timeout=30)
        replies = [m for m in await d.bot_messages(chat.id) if m.reply_to_id == asked["id"]]
    assert len(replies) == 1 and "could not confirm who you are" not in (replies[0].text or "")
    assert sandbox.connector.throttle_remaining == 0  # the 429 was answered, and the lookup asked again


async def test_forty_new_people_at_once_in_one_channel_are_read_at_teams_pace_and_never_refused(sandbox: Sandbox, make_bot: Any) -> None:
    """Each new person's first command costs a member read (the person check), which Teams limits per thread (14 a
    second, 16 per 2 seconds). Forty people posting in one channel at once are read at that pace, within the app's,
    so Teams refuses none of those reads, and each person is answered. (The answers are the outbox's, paced as the
    flood above shows; on a loaded machine one may still arrive later than the bot counted it and be sent again.)"""
    bot: RunningBot = make_bot()
    channel = Channel("19:sandbox-storm-team@thread.tacv2", "Storm", f"19:storm-{uuid.uuid4().hex[:8]}@thread.tacv2", "Incidents")
    place = TeamsDriver.channel(channel, sandbox.world.home_tenant_id)
    crowd = sandbox.connector.set_roster(place.id, [], others=40)
    sandbox.connector.forget_limits()  # `limited` counts this test's refusals only
    async with sandbox.driver(bot.messages_url) as d:
        asked = await asyncio.gather(*(d.say(person, "help", place) for person in crowd))
        ids = {a["id"] for a in asked}

        async def answered() -> bool:
            # in a channel each post starts a thread of its own (`;messageid=`), where its answer goes
            return len({m.reply_to_id for m in await d.bot_messages() if m.reply_to_id in ids}) == len(ids)

        await eventually(answered, "every one of the forty is answered", timeout=90)
    reads = [c for c in sandbox.connector.calls if c.operation == "member" and c.conversation_id.startswith(place.id)]
    assert len(reads) >= len(crowd)  # each new person read once (a refused read would be asked again)
    refused = [c.conversation_id for c in sandbox.connector.over_limits if "member" in c.operation]
    assert not refused, f"Teams refused {len(refused)} member reads of the bot: they were not paced"

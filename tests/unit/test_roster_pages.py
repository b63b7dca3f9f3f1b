"""Reading a roster page by page (bot/adapters/conversation/roster.py): every page, continuation tokens followed, the
Entra object id under either name Teams gives it; no Teams involved."""

from __future__ import annotations

import asyncio

import pytest

from bot.adapters.conversation import roster
from bot.adapters.conversation.roster import Entry, Roster, object_id_of, read_pages


@pytest.mark.parametrize(
    ("aad_object_id", "extra", "expected"),
    [
        ("oid-1", {}, "oid-1"),  # the paged and single-member calls: aadObjectId
        (None, {"objectId": "oid-2"}, "oid-2"),  # the non-paged roster (and Teams' docs samples): objectId
        ("", None, ""),  # an anonymous meeting guest has neither
        (None, {"objectId": 7}, ""),
    ],
)
def test_the_object_id_is_read_under_either_name(aad_object_id: object, extra: dict[str, object] | None, expected: str) -> None:
    assert object_id_of(aad_object_id, extra) == expected


async def test_every_page_is_read_following_continuation_tokens() -> None:
    pages = {None: ([("a", "29:a"), ("", "29:anonymous")], "t1"), "t1": ([("b", "29:b")], "t2"), "t2": ([("c", "29:c")], None)}
    asked: list[str | None] = []

    async def read(token: str | None) -> tuple[list[Entry], str | None]:
        asked.append(token)
        return pages[token]

    assert await read_pages(read) == {"a": "29:a", "b": "29:b", "c": "29:c"}
    assert asked == [None, "t1", "t2"]


async def test_a_token_answered_twice_ends_the_reading() -> None:
    calls = 0

    async def read(token: str | None) -> tuple[list[Entry], str | None]:
        nonlocal calls
        calls += 1
        return [(f"o{calls}", f"29:{calls}")], "same"

    assert len(await read_pages(read)) == 2 and calls == 2


async def test_a_roster_longer_than_the_pages_read_is_cut_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(roster, "MAX_PAGES", 3)

    async def read(token: str | None) -> tuple[list[Entry], str | None]:
        n = int(token or 0) + 1
        return [(f"o{n}", f"29:{n}")], str(n)

    assert list(await read_pages(read)) == ["o1", "o2", "o3"]


async def test_askers_of_a_roster_being_read_share_that_one_read() -> None:
    """The cards and turns of one conversation that ask while its roster is read wait for that read, not one each
    (in a storm each would be another member read Teams counts)."""
    reads: list[str] = []
    release = asyncio.Event()

    async def lister(service_url: str, conversation_id: str) -> dict[str, str]:
        reads.append(conversation_id)
        await release.wait()
        return {"oid-alice": "29:alice"}

    roster = Roster(lister)
    asking = [asyncio.create_task(roster.members("https://smba", f"19:ops@thread.tacv2;messageid={i}")) for i in range(20)]
    await asyncio.sleep(0)
    release.set()
    assert [await a for a in asking] == [{"oid-alice": "29:alice"}] * 20
    assert reads == ["19:ops@thread.tacv2"]
    assert await roster.members("https://smba", "19:ops@thread.tacv2") == {"oid-alice": "29:alice"}  # kept
    assert reads == ["19:ops@thread.tacv2"]


async def test_a_roster_read_that_fails_is_shared_as_unavailable_and_tried_again_by_the_next_asker() -> None:
    calls = 0

    async def lister(service_url: str, conversation_id: str) -> dict[str, str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("Teams answered 503")
        return {"oid-bob": "29:bob"}

    roster = Roster(lister)
    together = [roster.members("https://smba", "19:c@thread.v2") for _ in range(2)]
    assert await asyncio.gather(*together) == [None, None]
    assert await roster.members("https://smba", "19:c@thread.v2") == {"oid-bob": "29:bob"}
    assert calls == 2

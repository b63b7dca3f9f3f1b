"""The alert inbox queue's settings (STORE=azure-tables): name and endpoint (store group), visibility timeout and
poison threshold (limits group, next to the outbound timeout the default is derived from)."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings

GUID = "00000000-0000-0000-0000-000000000001"
BASE = {"AZURE_TENANT_ID": GUID, "DEFAULT_SUBSCRIPTION_ID": GUID}


def read(**env: str) -> Settings:
    return Settings.from_env({**BASE, **env})


def test_defaults_follow_azure_functions_and_the_outbound_timeout() -> None:
    s = read()
    assert (s.store.inbox_queue_name, s.limits.inbox_max_dequeue_count) == ("sreconsent-alerts", 5)
    assert s.limits.inbox_visibility_timeout == 180  # 6 x OUTBOUND_TIMEOUT_SECONDS (30)
    assert read(OUTBOUND_TIMEOUT_SECONDS="10").limits.inbox_visibility_timeout == 60
    assert read(INBOX_VISIBILITY_TIMEOUT_SECONDS="45").limits.inbox_visibility_timeout == 45


def test_the_queue_endpoint_is_derived_from_the_table_endpoint() -> None:
    s = read(STORE="azure-tables", AZURE_STORAGE_ACCOUNT_URL="https://acct.table.core.windows.net")
    assert s.store.queue_url == "https://acct.queue.core.windows.net"
    explicit = read(
        STORE="azure-tables",
        AZURE_STORAGE_ACCOUNT_URL="https://acct.table.core.windows.net",
        AZURE_STORAGE_QUEUE_URL="https://other.queue.core.windows.net/",
    )
    assert explicit.store.queue_url == "https://other.queue.core.windows.net"
    with pytest.raises(ConfigError, match="AZURE_STORAGE_QUEUE_URL is required"):
        read(STORE="azure-tables", AZURE_STORAGE_ACCOUNT_URL="https://tables.example.com")


@pytest.mark.parametrize("name", ["Alerts", "al", "a--b", "-alerts", "alerts-", "a" * 57, "alerts_1"])
def test_a_queue_name_azure_would_refuse_is_refused_with_the_rule(name: str) -> None:
    with pytest.raises(ConfigError, match=r"INBOX_QUEUE_NAME=.* expected 3 to 56 lower-case letters"):
        read(INBOX_QUEUE_NAME=name)


def test_bad_numbers_are_refused() -> None:
    with pytest.raises(ConfigError, match="INBOX_MAX_DEQUEUE_COUNT"):
        read(INBOX_MAX_DEQUEUE_COUNT="0")
    with pytest.raises(ConfigError, match="INBOX_VISIBILITY_TIMEOUT_SECONDS"):
        read(INBOX_VISIBILITY_TIMEOUT_SECONDS="soon")


def test_the_queue_settings_belong_to_the_store_and_limits_groups_each_read_on_its_own() -> None:
    from bot.config import LimitSettings, StoreSettings, limits, store
    from bot.config.reader import parse

    # the visibility timeout's default follows OUTBOUND_TIMEOUT_SECONDS, read in the same group
    assert parse({"OUTBOUND_TIMEOUT_SECONDS": "5"}, limits.SETTINGS, LimitSettings.read).inbox_visibility_timeout == 30
    assert parse({}, store.SETTINGS, StoreSettings.read).inbox_queue_name == "sreconsent-alerts"
    with pytest.raises(ConfigError) as e:
        parse({"INBOX_QUEUE_NAME": "Alerts"}, store.SETTINGS, StoreSettings.read)
    assert [p.split("=")[0] for p in e.value.problems] == ["INBOX_QUEUE_NAME"]

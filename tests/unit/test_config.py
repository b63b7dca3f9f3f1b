"""Settings are validated at start-up with one clear line naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import SETTINGS, ConfigError, Settings

GOOD = {
    "AZURE_TENANT_ID": "11111111-1111-1111-1111-111111111111",
    "DEFAULT_SUBSCRIPTION_ID": "00000000-0000-0000-0000-0000000000aa",
    "SSL_CERT_FILE": "",
    "REQUESTS_CA_BUNDLE": "",
}


APPROVER = "33333333-3333-3333-3333-333333333333"


def test_minimal_settings_are_valid() -> None:
    s = Settings.from_env(GOOD)
    assert s.teams.port == 3978 and s.azure.arm_endpoint == "https://management.azure.com" and s.policy.consent.approvals_required == 1
    assert s.teams.allowed_tenants == {GOOD["AZURE_TENANT_ID"]}


@pytest.mark.parametrize(
    ("override", "names"),
    [
        ({"AZURE_TENANT_ID": ""}, "AZURE_TENANT_ID is required"),
        ({"AZURE_TENANT_ID": "contoso"}, "AZURE_TENANT_ID='contoso' is invalid: expected a GUID"),
        ({"PORT": "eighty"}, "PORT='eighty' is invalid: expected a whole number"),
        ({"APPROVALS_REQUIRED": "0"}, "APPROVALS_REQUIRED='0' is invalid: expected at least 1"),
        (
            {"ARM_ENDPOINT": "http://management.azure.com"},
            "ARM_ENDPOINT='http://management.azure.com' is invalid: expected an https:// URL",
        ),
        ({"ALLOW_SELF_APPROVAL": "maybe"}, "ALLOW_SELF_APPROVAL='maybe' is invalid: expected true or false"),
        ({"MicrosoftAppId": "22222222-2222-2222-2222-222222222222"}, "MicrosoftAppPassword is required"),
        ({"MicrosoftAppType": "Weird"}, "MicrosoftAppType='Weird' is invalid"),
        ({"SSL_CERT_FILE": "/no/such/ca.pem"}, "SSL_CERT_FILE='/no/such/ca.pem' is invalid"),
        ({"DEFAULT_APPROVERS": "alice"}, "DEFAULT_APPROVERS='alice' is invalid: expected a GUID"),
    ],
)
def test_bad_setting_names_itself_and_what_is_expected(override: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as e:
        Settings.from_env({**GOOD, **override})
    assert names in str(e.value) and "\n" not in str(e.value)


def test_every_setting_is_documented_in_env_example_and_readme() -> None:
    root = Path(__file__).resolve().parents[2]
    example, readme = (root / ".env.example").read_text(), (root / "README.md").read_text()
    for s in SETTINGS:
        assert f"{s.name}=" in example, f"{s.name} missing from .env.example"
        assert f"`{s.name}`" in readme, f"{s.name} missing from README (run scripts/settings_docs.py)"


def test_channel_endpoints_are_all_or_nothing() -> None:
    assert not Settings.from_env(GOOD).teams.channel.parameterized  # none: the public cloud
    with pytest.raises(ConfigError, match="ToBotFromChannelTokenIssuer is required when any of"):
        Settings.from_env({**GOOD, "ToBotFromChannelOpenIdMetadataUrl": "https://login.example/v1/.well-known/openidconfiguration"})


def test_anonymous_mode_binds_loopback_and_only_without_an_app_id() -> None:
    from bot.config import check_serving

    with pytest.raises(ConfigError, match=r"^MicrosoftAppId is required"):
        check_serving(Settings.from_env(GOOD))
    anonymous = Settings.from_env({**GOOD, "ANONYMOUS_ALLOWED": "true", "HOST": "0.0.0.0", "DEFAULT_APPROVERS": APPROVER})
    check_serving(anonymous)
    assert anonymous.teams.anonymous_allowed and anonymous.teams.host == "127.0.0.1"
    signed = Settings.from_env(
        {**GOOD, "ANONYMOUS_ALLOWED": "true", "MicrosoftAppId": "22222222-2222-2222-2222-222222222222", "MicrosoftAppPassword": "x"}
    )
    assert not signed.teams.anonymous_allowed and signed.teams.host == "0.0.0.0"  # an app id always means authentication on


def test_every_problem_is_listed_at_once_one_line_each() -> None:
    with pytest.raises(ConfigError) as e:
        Settings.from_env({**GOOD, "PORT": "abc", "AZURE_TENANT_ID": "contoso", "LOG_LEVEL": "loud"})
    assert e.value.problems == [
        "AZURE_TENANT_ID='contoso' is invalid: expected a GUID like 00000000-0000-0000-0000-000000000000",
        "PORT='abc' is invalid: expected a whole number",
        "LOG_LEVEL='LOUD' is invalid: expected DEBUG, INFO, WARNING or ERROR",
    ]
    assert str(e.value).startswith("AZURE_TENANT_ID='contoso' is invalid")


SERVING = {**GOOD, "MicrosoftAppId": "22222222-2222-2222-2222-222222222222", "MicrosoftAppPassword": "x"}


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({}, "DEFAULT_APPROVERS or APPROVER_GROUP_ID is required: with neither, nobody could approve a plan"),
        (
            {"DEFAULT_APPROVERS": APPROVER, "APPROVALS_REQUIRED": "3"},
            "APPROVALS_REQUIRED=3 is invalid: only 1 approver(s) in DEFAULT_APPROVERS and no APPROVER_GROUP_ID",
        ),
    ],
)
def test_a_policy_no_one_can_satisfy_does_not_serve(override: dict[str, str], problem: str) -> None:
    Settings.from_env({**SERVING, **override})  # valid settings, for tools that do not serve
    with pytest.raises(ConfigError) as e:
        Settings.from_env({**SERVING, **override}, serving=True)
    assert len(e.value.problems) == 1 and e.value.problems[0].startswith(problem)


def test_a_group_makes_any_quorum_satisfiable() -> None:
    group = {"APPROVER_GROUP_ID": "44444444-4444-4444-4444-444444444444", "APPROVALS_REQUIRED": "3"}
    assert Settings.from_env({**SERVING, **group}, serving=True).policy.consent.approvals_required == 3


def test_an_instance_is_named_by_instance_id_else_by_app_service_else_left_to_the_host_name() -> None:
    assert Settings.from_env({**GOOD, "INSTANCE_ID": "blue-1"}).store.instance_id == "blue-1"
    on_app_service = {**GOOD, "WEBSITE_INSTANCE_ID": "0fe3a2b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"}
    assert Settings.from_env(on_app_service).store.instance_id == "0fe3a2b4c5d6e7f8"
    assert Settings.from_env({**on_app_service, "INSTANCE_ID": "blue-1"}).store.instance_id == "blue-1"
    assert Settings.from_env(GOOD).store.instance_id == ""  # the store names it after the host


def test_an_execution_lease_too_short_to_renew_is_refused() -> None:
    with pytest.raises(ConfigError, match="EXECUTION_LEASE_SECONDS"):
        Settings.from_env({**GOOD, "EXECUTION_LEASE_SECONDS": "0.1"})


def test_each_group_is_parsed_and_validated_on_its_own() -> None:
    from bot.config import StoreSettings, store
    from bot.config.reader import parse

    # no AZURE_TENANT_ID nor DEFAULT_SUBSCRIPTION_ID: only the store's own settings are read, and only its problems said
    assert parse({}, store.SETTINGS, StoreSettings.read).kind == "sqlite"
    with pytest.raises(ConfigError) as e:
        parse({"STORE": "azure-tables", "PORT": "abc"}, store.SETTINGS, StoreSettings.read)
    assert e.value.problems == ["AZURE_STORAGE_ACCOUNT_URL is required when STORE=azure-tables (or set AZURE_STORAGE_CONNECTION_STRING)"]


def test_every_setting_belongs_to_exactly_one_group() -> None:
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))


async def test_the_store_is_reached_with_the_runtime_identity_not_the_agents() -> None:
    """AZURE_STORAGE_CLIENT_ID: the bot's own store and queue are reached with a managed identity of their own, so the
    identity that acts on Azure (AZURE_CLIENT_ID) needs no data role on them; without it, the agent identity."""
    from azure.identity.aio import ManagedIdentityCredential

    from bot.bootstrap import make_broker

    runtime_id = "44444444-4444-4444-4444-444444444444"
    settings = Settings.from_env({**GOOD, "AZURE_CLIENT_ID": APPROVER, "AZURE_STORAGE_CLIENT_ID": runtime_id})
    assert settings.azure.storage_client_id == runtime_id
    broker = make_broker(settings)
    runtime = broker.runtime(settings.azure.storage_client_id)
    assert isinstance(runtime._get(), ManagedIdentityCredential) and runtime is not broker.agent()  # made on first use
    assert broker.runtime("") is broker.agent()
    await broker.close()
    with pytest.raises(ConfigError, match="AZURE_STORAGE_CLIENT_ID"):
        Settings.from_env({**GOOD, "AZURE_STORAGE_CLIENT_ID": "runtime"})

"""The Microsoft 365 Agents Playground's configuration for the demo world (`sandbox --anonymous`, tests/e2e).

The Playground (npm `@microsoft/m365agentsplayground`) mocks a tenant, a current user and other
members from the YAML file named by `M365_AGENTS_PLAYGROUND_CONFIG_PATH`; with the demo world's
tenant and people, the bot serves them as it serves Teams users of its own tenant.
"""

from __future__ import annotations

from .world import World

GROUP_CHAT = "group-chat-ops"


def _user_yaml(indent: str, teams_id: str, name: str, upn: str, oid: str) -> str:
    given, _, surname = name.partition(" ")
    return (
        f"{indent}id: {teams_id}\n{indent}name: {name}\n{indent}userPrincipleName: {upn}\n"
        f"{indent}aadObjectId: {oid}\n{indent}givenName: {given}\n{indent}surname: {surname or given}\n{indent}email: {upn}\n"
    )


def config_yaml(world: World, current: str, bot_id: str, bot_name: str) -> str:
    """The Playground's mocked tenant: `current` types and clicks; the other demo users are members (of its group chat
    "Ops" and of the team). The team is the demo world's SRE team with its Approvals channel (APPROVALS_CHANNEL) under
    its Teams id: the Playground takes one channel besides the General one it adds (whose id is the team's)."""
    me = world.user(current)
    others = [u for u in world.users.values() if u.name != current and u.tenant_id == world.home_tenant_id]
    # the Playground wants at least five other members: observers with no role fill the chat
    fillers = [("Dana Observer", "dana"), ("Erin Observer", "erin"), ("Finn Observer", "finn")]
    users = "".join("  -" + _user_yaml("    ", u.teams_id, u.display_name, u.upn, u.object_id)[3:] for u in others)
    for i, (name, alias) in enumerate(fillers):
        users += (
            "  -"
            + _user_yaml("    ", f"29:sandbox-{alias}", name, f"{alias}@contoso.example", f"00000000-0000-0000-0000-0000000001{i:02d}")[3:]
        )
    team = world.approvals_channel
    return (
        f'version: "0.1.1"\ntenantId: {world.home_tenant_id}\nbot:\n  id: {bot_id}\n  name: {bot_name}\n'
        f"currentUser:\n{_user_yaml('  ', me.teams_id, me.display_name, me.upn, me.object_id)}"
        f"users:\n{users}"
        f"personalChat:\n  id: personal-chat-{current}\ngroupChat:\n  id: {GROUP_CHAT}\n  name: Ops\n"
        f'team:\n  id: "{team.team_id}"\n  name: {team.team_name}\n  aadGroupId: {world.groups[0].object_id}\n'
        f'  channels:\n    - id: "{team.channel_id}"\n      name: {team.channel_name}\n'
    )

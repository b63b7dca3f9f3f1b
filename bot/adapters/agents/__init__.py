"""The Teams adapter on the Microsoft 365 Agents SDK (the successor of botbuilder): the same entry points as
bot/adapters/teams, over the same conversation core (bot/adapters/conversation). Selected by BOT_SDK=agents."""

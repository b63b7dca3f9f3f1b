"""The conversation with Teams people, independent of the Bot Framework SDK in use.

What a message or a card click means (typed), who sent it (the person check), how fast (rate limits),
which handler answers it (one router) and what the answer is (SDK-neutral variants). Each SDK adapter
(bot/adapters/teams for botbuilder, bot/adapters/agents for the Microsoft 365 Agents SDK) turns its
activity into an `Incoming`, implements the small Protocols in `turn.py`, and turns `answers.Answer`
into its own invoke response.
"""

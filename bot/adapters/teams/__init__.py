"""The only place that imports botbuilder (end-of-life; to be replaced by the Microsoft 365 Agents SDK)."""

"""Adaptive Cards as pure functions of (plan, viewer), built with the microsoft-teams-cards models."""

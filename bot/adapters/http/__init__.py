"""The HTTP API for agents (POST /api/plans) and operational endpoints."""

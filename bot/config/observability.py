"""Logs, traces and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from .reader import Reader, declared

SETTINGS = declared("observability")


@dataclass(frozen=True)
class ObservabilitySettings:
    log_level: str
    appinsights_connection_string: str = field(repr=False)
    metrics_port: int | None
    metrics_host: str

    @classmethod
    def read(cls, r: Reader) -> ObservabilitySettings:
        port = r.optional_number("METRICS_PORT", 0)
        return cls(
            log_level=r.choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), upper=True),
            appinsights_connection_string=r.get("APPLICATIONINSIGHTS_CONNECTION_STRING"),
            metrics_port=None if port is None else int(port),
            metrics_host=r.get("METRICS_HOST"),
        )

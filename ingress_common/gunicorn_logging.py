"""gunicorn's logging: its loggers share the JSON formatter; no access log (URLs may carry tokens)."""

from __future__ import annotations

from typing import Any


def gunicorn_logconfig(level: str) -> dict[str, Any]:
    """gunicorn's logconfig_dict: its loggers share our JSON formatter; no access log."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "ingress_common.logs.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }

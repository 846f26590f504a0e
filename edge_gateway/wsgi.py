"""`gunicorn -c python:edge_gateway.gunicorn_conf edge_gateway.wsgi:app`: settings from the environment."""

from edge_gateway.settings import load_settings
from edge_gateway.worker import build_app
from ingress_common.logs import configure_logging

_settings = load_settings()
configure_logging(_settings.log_level)
app = build_app(_settings)

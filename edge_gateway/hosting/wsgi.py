"""The WSGI app for a plain gunicorn, settings from the environment:

    gunicorn -c python:edge_gateway.hosting.gunicorn_config edge_gateway.hosting.wsgi:app
"""

from edge_gateway.hosting.app_factory import build_app
from edge_gateway.settings import load_settings
from ingress_common.logs import configure_logging

_settings = load_settings()
configure_logging(_settings.log_level)
app = build_app(_settings)

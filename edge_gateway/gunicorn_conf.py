"""For `gunicorn -c python:edge_gateway.gunicorn_conf edge_gateway.wsgi:app`.

Applies the same gunicorn options as `edge-gateway serve`, from the environment.
"""

from edge_gateway.server import gunicorn_options
from edge_gateway.settings import load_settings

globals().update(gunicorn_options(load_settings()))

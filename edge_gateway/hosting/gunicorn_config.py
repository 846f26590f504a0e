"""For `gunicorn -c python:edge_gateway.hosting.gunicorn_config edge_gateway.hosting.wsgi:app`.

Applies the same gunicorn options as `edge-gateway serve`, from the environment.
"""

from edge_gateway.hosting.gunicorn_app import gunicorn_options
from edge_gateway.settings import load_settings
from ingress_common.sd_notify import hide_from_gunicorn

hide_from_gunicorn()  # the worker says READY=1 when Kafka is reachable, not the arbiter
globals().update(gunicorn_options(load_settings()))

"""How the gateway is hosted: gunicorn (one gthread worker), and what runs inside it.

- `gunicorn_app`: `edge-gateway serve`, gunicorn embedded with our options;
- `gunicorn_config` + `wsgi`: the same, for a plain `gunicorn -c ... edge_gateway.hosting.wsgi:app`;
- `gthread_worker`: the worker class (admission of raw connections, header timeout, sd_notify);
- `app_factory`: builds a worker's app after fork (warmed Kafka producer, receipts, Flask);
- `inline_websocket`: flask-sock's connections read in the handler's thread.
"""

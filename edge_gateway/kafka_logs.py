"""librdkafka's own log lines, through our JSON logging and throttled.

Without a `logger` in its config, librdkafka prints raw `%3|…|FAIL|…` lines to stderr,
one per failed connect (measured: 446 in a 30 s outage). With one, they become records
of the `edge_gateway.kafka.<client>` logger, which `ThrottleFilter` bounds.
"""

from __future__ import annotations

import logging

from ingress_common.log_throttle import throttled_logger


def kafka_logger(client: str) -> logging.Logger:
    return throttled_logger(f"edge_gateway.kafka.{client}")

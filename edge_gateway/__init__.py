"""Edge gateway: WebSocket audio streams in, Avro AudioInputEvents on Kafka out."""

__version__ = "0.1.0"

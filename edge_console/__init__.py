"""edge-console: the operator's view of the fleet, its own process, anywhere that reaches
Kafka. It follows the health and settings topics, serves a page, a JSON API and per-device
Prometheus gauges, raises alerts, and writes the settings operators change."""

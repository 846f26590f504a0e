"""Test, demo and benchmark harness: a real broker, a real gateway process, a Kafka reader."""

"""Prometheus metrics of one gateway worker, in their own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

PUBLISH_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.active_connections = Gauge(
            "edge_gateway_active_connections", "Open audio connections.", registry=r)
        self.accepted = Counter(
            "edge_gateway_connections_accepted_total", "Audio connections accepted.", registry=r)
        self.refused = Counter(
            "edge_gateway_connections_refused_total",
            "Audio connections refused or ended without publishing, by reason.",
            ["reason"], registry=r)
        self.published = Counter(
            "edge_gateway_events_published_total", "Events confirmed by Kafka.", registry=r)
        self.publish_failed = Counter(
            "edge_gateway_events_failed_total", "Events not confirmed by Kafka, by reason.",
            ["reason"], registry=r)
        self.producer_replacements = Counter(
            "edge_gateway_kafka_producer_replacements_total",
            "Kafka producers replaced after they were fenced or hit a fatal error.", registry=r)
        self.audio_bytes = Counter(
            "edge_gateway_audio_bytes_total", "PCM bytes in published events.", registry=r)
        self.duplicates = Counter(
            "edge_gateway_segment_repeats_total",
            "Repeats of a published segment_id answered with the first receipt.", registry=r)
        self.receipts = Gauge(
            "edge_gateway_receipts", "Segments the receipt book remembers.", registry=r)
        self.receipt_lookups = Counter(
            "edge_gateway_receipt_lookups_total",
            "Segments looked up in the receipts topic because the book had forgotten part of "
            "the window, by result (found, claimed, not_found, unknown: refused as retryable).",
            ["result"], registry=r)
        self.devices_served = Gauge(
            "edge_gateway_devices_served",
            "Devices whose receipts this gateway keeps (learned when first seen).", registry=r)
        self.receipt_read_rounds = Gauge(
            "edge_gateway_receipt_read_rounds",
            "Times the receipts follower has woken to read its topic to the end.", registry=r)
        self.health_reports = Counter(
            "edge_gateway_health_reports_total",
            "Device health reports written to the health topic.", registry=r)
        self.health_refused = Counter(
            "edge_gateway_health_reports_refused_total",
            "Health reports refused (nothing stored), by reason.", ["reason"], registry=r)
        self.devices_reporting = Gauge(
            "edge_gateway_devices_reporting",
            "Devices whose settings this gateway follows (seen reporting health).", registry=r)
        self.publish_latency = Histogram(
            "edge_gateway_publish_latency_seconds", "From end of stream to delivery report.",
            buckets=PUBLISH_LATENCY_BUCKETS, registry=r)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

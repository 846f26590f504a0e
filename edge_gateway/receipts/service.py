"""Assembles the receipts machinery of one worker: topic, book, follower and ledger."""

from __future__ import annotations

import logging
import time

from edge_gateway.kafka_logs import kafka_logger
from edge_gateway.landing import Location
from edge_gateway.publisher import KafkaPublisher
from edge_gateway.receipts.book import BookLimits, ReceiptBook, State
from edge_gateway.receipts.devices import DeviceLimits, ServedDevices
from edge_gateway.receipts.follower import ReceiptFollower, consumer_config
from edge_gateway.receipts.ledger import LedgerTimes, RecordProducer, SegmentLedger
from edge_gateway.receipts.records import SegmentKey
from edge_gateway.receipts.scan import ScanIncomplete, find_history, find_record
from edge_gateway.settings import GatewaySettings
from ingress_common.kafka_topics import ensure_topic, partition_for

_LOGGER = logging.getLogger(__name__)
SCAN_TIMEOUT_S = 10.0


class ReceiptService:
    def __init__(self, settings: GatewaySettings, kafka: KafkaPublisher,
                 ledger_producer: RecordProducer | None = None) -> None:
        """`ledger_producer` stands in for `kafka` where the ledger writes its records
        (devkit's fault gateway wraps it); by default, `kafka` itself."""
        self.settings = settings
        self.book = ReceiptBook(BookLimits(settings.receipt_window_s, settings.receipt_max_entries))
        config = consumer_config(settings.kafka_bootstrap_servers, settings.kafka_config)
        self.follower = ReceiptFollower(
            config, settings.receipts_topic, self.book,
            ServedDevices(DeviceLimits(settings.max_devices, settings.device_idle_s)),
            settings.receipt_window_s, prepare=self.ensure_topic)
        self._scan_config = config
        times = LedgerTimes(publish_timeout_s=settings.publish_timeout_s,
                            skew_s=settings.claim_skew_s)
        self.ledger = SegmentLedger(ledger_producer or kafka, settings.receipts_topic, self.book,
                                    self._find, settings.resolved_gateway_id, times,
                                    find_history=self._history, learn=self.follower.learn,
                                    partitions=lambda: self.follower.partitions)
        self._kafka = kafka

    def start(self) -> None:
        self.follower.start()

    def ensure_topic(self) -> None:
        """Create the receipts topic if missing: deletion after the window, not compaction
        (its key is the device, so that one device's claims are read in one order)."""
        s = self.settings
        created = ensure_topic(
            s.kafka_bootstrap_servers, s.receipts_topic, s.receipts_partitions,
            s.kafka_topic_replication,
            {"cleanup.policy": "delete", "retention.ms": str(int(s.receipt_window_s * 1000))},
            s.kafka_config, s.kafka_startup_timeout_s, kafka_logger("admin"))
        if created:
            _LOGGER.info("receipts topic %s created", s.receipts_topic)
        self._kafka.check_ready(s.kafka_startup_timeout_s, s.receipts_topic)

    def not_ready(self) -> str | None:
        """Why segment streams cannot be served yet, or None."""
        if not self.follower.caught_up.is_set():
            return f"receipts topic {self.settings.receipts_topic} not reachable yet"
        return None

    def close(self) -> None:
        self.follower.stop()
        self.ledger.close()

    def _history(self, key: SegmentKey) -> State | None:
        """What the receipts topic says of `key` since the window's start."""
        since_ms = time.time_ns() // 1_000_000 - int(self.settings.receipt_window_s * 1000)
        partition = partition_for(key.device_id, self.follower.partitions)
        if partition is None:
            raise ScanIncomplete("the receipts topic is not known yet")
        return find_history(self._scan_config, self.settings.receipts_topic, partition, key,
                            since_ms, SCAN_TIMEOUT_S)

    def _find(self, key: SegmentKey, claimed_at_ms: int) -> Location | None:
        return find_record(self._scan_config, self._kafka.topic,
                           self._kafka.partition_of(key.device_id), key, claimed_at_ms,
                           SCAN_TIMEOUT_S)

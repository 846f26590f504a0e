"""The Flask application: thin routes over the stream handler, publisher and metrics.

Admission to /ws/audio (Origin allowlist, connection slots) happens in `before_request`,
before the WebSocket upgrade, so a refusal is a plain HTTP answer with a JSON body.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass

from flask import Flask, Response, g, jsonify, request
from flask_sock import Sock

from edge_gateway.fleet.health_intake import HealthIntake
from edge_gateway.identity.gate import DeviceGate
from edge_gateway.identity.open_streams import OpenStreams
from edge_gateway.ingest import UtterancePublisher
from edge_gateway.limits import HARD_FRAME_CEILING_FACTOR, ConnectionSlots
from edge_gateway.metrics import GatewayMetrics
from edge_gateway.publisher import KafkaPublisher
from edge_gateway.receipts.service import ReceiptService
from edge_gateway.schema_registration import SchemaRegistration, SchemaUnregistered, serializer_for
from edge_gateway.settings import GatewaySettings
from edge_gateway.stream import StreamHandler, WebSocket
from ingress_common.auth import SUBPROTOCOL, token_from_request
from ingress_common.framing import Framing
from ingress_common.health import HEALTH_PATH, MAX_REPORT_BYTES
from ingress_common.protocol import Error, encode_server
from ingress_common.refusals import (
    AdmissionRefused,
    InternalError,
    OriginForbidden,
    OverCapacity,
    ReportTooLarge,
    SchemaUnavailable,
    StreamRefused,
)

_LOGGER = logging.getLogger(__name__)
AUDIO_ENDPOINT = "audio_stream"
READY_CHECK_TIMEOUT_S = 2.0
RECEIVE_BYTES = 65536
CLIENT_CSP = ("default-src 'self'; connect-src 'self'; img-src 'self' data:; "
              "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
"""The page loads nothing but its own files and talks only to its own gateway."""


@dataclass
class GatewayState:
    """What the routes share within one worker process."""

    settings: GatewaySettings
    kafka: KafkaPublisher
    metrics: GatewayMetrics
    slots: ConnectionSlots
    handler: StreamHandler
    receipts: ReceiptService
    health: HealthIntake
    gate: DeviceGate
    schema: SchemaRegistration | None = None

    def not_ready(self) -> str | None:
        """Why the worker cannot serve every stream yet, or None."""
        return (self.kafka.check_ready(READY_CHECK_TIMEOUT_S) or self.receipts.not_ready()
                or self.schema_missing())

    def schema_missing(self) -> str | None:
        """With confluent framing, why no event can be framed yet (registering the schema
        now if start-up could not), or None."""
        if self.settings.event_framing is not Framing.CONFLUENT or self.schema is None:
            return None
        try:
            self.schema.register()
        except SchemaUnregistered as exc:
            return f"event schema not registered under {exc.subject}: {exc.reason}"
        return None


class AudioSlot:
    """One of the `max_connections` audio slots; released once (at the verdict, or at the
    end of the request if the stream never reached one)."""

    def __init__(self, state: GatewayState) -> None:
        self._state = state
        self._held = True
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if not self._held:
                return
            self._held = False
        self._state.slots.release()
        self._state.metrics.active_connections.dec()


def create_app(settings: GatewaySettings, kafka: KafkaPublisher, receipts: ReceiptService,
               health: HealthIntake, gate: DeviceGate,
               schema: SchemaRegistration | None = None,
               open_streams: OpenStreams | None = None) -> Flask:
    """`schema` is the event schema's registration (with a registry URL), whatever the
    framing; confluent framing needs it. `health` takes the devices' health reports. `gate`
    admits devices; `open_streams` is where a revocation finds their streams."""
    metrics = GatewayMetrics()
    kafka.on_replaced = lambda _reason: metrics.producer_replacements.inc()
    receipts.ledger.on_lookup = lambda result: metrics.receipt_lookups.labels(result).inc()
    publisher = UtterancePublisher(kafka, serializer_for(settings.event_framing, schema),
                                   settings.source_service, metrics)
    state = GatewayState(settings, kafka, metrics, ConnectionSlots(settings.max_connections),
                         StreamHandler(settings.stream_limits, publisher, metrics,
                                       receipts.ledger, open_streams=open_streams),
                         receipts, health, gate, schema)
    app = Flask(__name__)
    app.extensions["edge_gateway"] = state
    app.config["SOCK_SERVER_OPTIONS"] = {
        "max_message_size": settings.max_frame_bytes * HARD_FRAME_CEILING_FACTOR,
        # One recv() per 64 KiB instead of per 4 KiB (the default): a 1.4 MiB stream costs
        # 23 trips through wsproto instead of 360.
        "receive_bytes": RECEIVE_BYTES,
        # Selected when offered: a browser that sends its token as a subprotocol must get
        # one of its offers back, or it drops the connection.
        "subprotocols": [SUBPROTOCOL]}
    _add_admission(app, state)
    _add_http_routes(app, state)
    _add_health_route(app, state)
    _add_audio_route(app, state)
    return app


def _refusal(state: GatewayState, refusal: AdmissionRefused,
             headers: dict[str, str] | None = None, health: bool = False) -> Response:
    """The plain HTTP answer before the upgrade (or to a health report), counted by its
    code."""
    counter = state.metrics.health_refused if health else state.metrics.refused
    counter.labels(refusal.code).inc()
    response = jsonify(event="error", code=refusal.code, message=refusal.message,
                       published=False, retryable=refusal.retryable)
    response.status_code = refusal.status
    if refusal.retryable:
        response.headers["Retry-After"] = str(refusal.retry_after_s)
    response.headers.update(headers or {})
    return response


def _challenge(refusal: AdmissionRefused) -> dict[str, str] | None:
    """A 401 names the scheme the gateway wants (RFC 6750)."""
    if refusal.status == 401:
        return {"WWW-Authenticate": 'Bearer realm="edge-audio-ingress"'}
    return None


def _add_admission(app: Flask, state: GatewayState) -> None:
    @app.before_request
    def admit_audio_connection() -> Response | None:
        if request.endpoint != AUDIO_ENDPOINT:
            return None
        allowed = state.settings.allowed_origins
        origin = request.headers.get("Origin")
        if allowed and (origin or "").rstrip("/") not in allowed:
            return _refusal(state, OriginForbidden("this Origin is not in the gateway's allowlist"))
        if state.gate.enabled:
            query = dict(request.args) if state.settings.auth_allow_query_token else {}
            try:
                g.device_id = state.gate.admit(token_from_request(dict(request.headers), query))
            except AdmissionRefused as refusal:
                return _refusal(state, refusal, _challenge(refusal))
        schema_missing = state.schema_missing()
        if schema_missing:
            return _refusal(state, SchemaUnavailable(
                f"{schema_missing}; nothing was published, retry later"))
        if not state.slots.try_acquire():
            return _refusal(state, OverCapacity(
                f"all {state.slots.capacity} audio connections are in use; retry later"))
        g.audio_slot = AudioSlot(state)
        state.metrics.active_connections.inc()
        state.metrics.accepted.inc()
        return None

    @app.teardown_request
    def release_audio_slot(_exc: BaseException | None) -> None:
        slot = g.pop("audio_slot", None)
        if slot is not None:
            slot.release()


def _add_http_routes(app: Flask, state: GatewayState) -> None:
    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok", active_connections=state.slots.in_use)

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        problem = state.not_ready()
        if problem:
            return jsonify(status="not ready", reason=problem), 503
        return jsonify(status="ready", topic=state.kafka.topic), 200

    @app.get("/metrics")
    def metrics() -> Response:
        state.metrics.receipts.set(len(state.receipts.book))
        state.metrics.receipt_read_rounds.set(state.receipts.follower.rounds)
        state.metrics.devices_served.set(len(state.receipts.follower.devices))
        state.metrics.devices_reporting.set(state.health.settings.devices)
        return Response(state.metrics.exposition(), mimetype="text/plain; version=0.0.4")

    @app.get("/")
    def browser_client() -> Response:
        """The microphone check page (static/): no build step, no CDN, same-origin only."""
        response = app.send_static_file("index.html")
        response.headers["Content-Security-Policy"] = CLIENT_CSP
        return response

    @app.after_request
    def no_sniffing(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.path.startswith("/static/"):
            response.headers["Content-Security-Policy"] = CLIENT_CSP
        return response


def _add_health_route(app: Flask, state: GatewayState) -> None:
    @app.post(HEALTH_PATH)
    def health_report() -> Response:
        """A device's health report (docs/protocol.md, "Health reports"): authenticated
        like its audio, never holding an audio slot."""
        try:
            device_id = state.gate.admit(token_from_request(dict(request.headers), {}))
        except AdmissionRefused as refusal:
            return _refusal(state, refusal, _challenge(refusal), health=True)
        if (request.content_length or 0) > MAX_REPORT_BYTES:
            return _refusal(state, ReportTooLarge(
                f"health reports are limited to {MAX_REPORT_BYTES} bytes; nothing was stored"),
                health=True)
        try:
            reply = state.health.take(request.stream.read(MAX_REPORT_BYTES + 1), device_id)
        except AdmissionRefused as refusal:
            return _refusal(state, refusal, health=True)
        state.metrics.health_reports.inc()
        return Response(reply.encode(), mimetype="application/json")


def _add_audio_route(app: Flask, state: GatewayState) -> None:
    sock = Sock(app)

    @sock.route("/ws/audio", endpoint=AUDIO_ENDPOINT)
    def audio_stream(ws: WebSocket) -> None:
        correlation_id = str(uuid.uuid4())
        try:
            state.handler.serve(ws, correlation_id, device_id=g.get("device_id"),
                                on_verdict=g.audio_slot.release)
        except Exception:  # the connection's supervisor: log it, tell the client, close
            _LOGGER.exception("stream failed", extra={"correlation_id": correlation_id})
            state.metrics.refused.labels(InternalError.code).inc()
            _close_after_internal_error(ws, correlation_id)


def _close_after_internal_error(ws: WebSocket, correlation_id: str) -> None:
    error = Error(InternalError.code, "the gateway failed; the audio was not published",
                  published=False, retryable=InternalError.retryable,
                  correlation_id=correlation_id)
    try:
        ws.send(encode_server(error))
        ws.close(InternalError.close_code, InternalError.code)
    except Exception:  # noqa: BLE001 - the socket may be in any state here
        _LOGGER.debug("could not tell the client about the failure")


__all__ = ["create_app", "GatewayState", "StreamRefused"]

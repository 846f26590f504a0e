"""The console's routes: the page, the JSON API, /metrics, and operator sign-in.

With CONSOLE_AUTH_PUBLIC_KEYS set, every route but /healthz, the sign-in and the page's own
static files needs an operator token (audience CONSOLE_AUTH_AUDIENCE, `edge-audio-console`),
as `Authorization: Bearer` or the HttpOnly, SameSite=Strict cookie the sign-in sets. A
device token (audience `edge-audio-ingress`) is refused. Changes need a JSON body, which a
cross-site form cannot send.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, jsonify, request

from edge_console import playback
from edge_console.fleet import FleetView
from edge_console.follower import FleetFollower
from edge_console.identity_desk import IdentityDesk, NotKnown, NotWaiting
from edge_console.kafka_status import KafkaStatus
from edge_console.kafka_writer import NotStored
from edge_console.metrics import exposition
from edge_console.settings import ConsoleSettings
from edge_console.settings_writer import SettingsWriter
from ingress_common.auth import AuthError, TokenVerifier, token_from_request
from ingress_common.config import ConfigError
from ingress_common.health import RecentUtterance
from ingress_common.identifiers import is_id
from ingress_common.remote_settings import REMOTE_SETTINGS

_LOGGER = logging.getLogger(__name__)
_AUDIT = logging.getLogger("edge_console.audit")
"""Who changed what, who listened to what: people's speech and devices' settings."""
COOKIE = "console_token"
OPEN_PATHS = ("/healthz", "/login", "/", "/static/")
CSP = ("default-src 'self'; media-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


@dataclass
class ConsoleState:
    settings: ConsoleSettings
    fleet: FleetView
    follower: FleetFollower
    writer: SettingsWriter
    verifier: TokenVerifier | None
    kafka: KafkaStatus
    identities: IdentityDesk

    def device_views(self) -> tuple[list[dict[str, Any]], dict[str, object]]:
        """Every device as of the last moment Kafka was readable (with the fleet's decision
        about its key, if any), and Kafka's state."""
        kafka = self.kafka.state
        statuses = self.identities.book.statuses()
        views = [{**view, "identity": statuses.get(view["device_id"])}
                 for view in self.fleet.views(kafka.as_of_ms(now_ms()), kafka.readable_since_ms())]
        return views, kafka.message()

    def device_view(self, device_id: str) -> dict[str, Any] | None:
        """One device, judged as `device_views` judges them, with Kafka's state."""
        kafka = self.kafka.state
        view = self.fleet.view(device_id, kafka.as_of_ms(now_ms()), kafka.readable_since_ms())
        if view is None:
            return None
        identity = self.identities.book.identity(device_id)
        return {**view, "identity": identity.status if identity else None,
                "kafka": kafka.message()}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def create_app(state: ConsoleState) -> Flask:
    app = Flask(__name__)
    app.extensions["edge_console"] = state
    _add_security(app, state)
    _add_routes(app, state)
    return app


def _error(status: int, code: str, message: str) -> Response:
    response = jsonify(error=code, message=message)
    response.status_code = status
    return response


def _add_security(app: Flask, state: ConsoleState) -> None:
    @app.before_request
    def require_operator() -> Response | None:
        g.operator = "local"
        open_path = request.path in OPEN_PATHS[:3] or request.path.startswith(OPEN_PATHS[3])
        if state.verifier is None or open_path:
            return None
        token = token_from_request(dict(request.headers), {}) or request.cookies.get(COOKIE)
        try:
            if token is None:
                raise AuthError("no operator token")
            g.operator = state.verifier.verify(token).device_id
        except AuthError as exc:
            response = _error(401, "unauthorized", f"an operator token is needed: {exc}")
            response.headers["WWW-Authenticate"] = 'Bearer realm="edge-console"'
            return response
        return None

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.path.startswith("/api/") or request.path == "/login":
            response.headers["Cache-Control"] = "no-store"
        return response


def _json_change() -> Response | None:
    """A change must come as JSON: a cross-site form cannot send it (no CSRF)."""
    if not request.is_json:
        return _error(415, "json_required", "send the change as application/json")
    return None


def _add_identity_routes(app: Flask, state: ConsoleState) -> None:
    desk = state.identities

    @app.get("/api/enrollments")
    def enrollments() -> Response:
        """The devices waiting to join (a conflict: another key than the accepted one)."""
        return jsonify(enrollments=desk.book.enrollments_view(), operator=g.operator)

    @app.post("/api/enrollments/<path:device_id>/<any(accept, reject):decision>")
    def answer(device_id: str, decision: str) -> Response:
        refused = _json_change()
        if refused is not None:
            return refused
        try:
            identity = (desk.accept if decision == "accept" else desk.reject)(device_id,
                                                                              g.operator)
        except NotWaiting as exc:
            return _error(404, "not_waiting", str(exc))
        except NotStored as exc:
            return _error(503, "not_stored", str(exc))
        _AUDIT.info(f"enrollment {decision}ed", extra={
            "operator": g.operator, "device_id": device_id, "thumbprint": identity.thumbprint})
        return jsonify(device_id=device_id, status=identity.status,
                       thumbprint=identity.thumbprint, changed_by=identity.changed_by)

    @app.post("/api/devices/<path:device_id>/revoke")
    def revoke(device_id: str) -> Response:
        refused = _json_change()
        if refused is not None:
            return refused
        try:
            identity = desk.revoke(device_id, g.operator, known=state.fleet.known(device_id))
        except NotKnown as exc:
            return _error(404, "not_found", str(exc))
        except NotStored as exc:
            return _error(503, "not_stored", str(exc))
        _AUDIT.info("device revoked", extra={"operator": g.operator, "device_id": device_id,
                                              "thumbprint": identity.thumbprint})
        return jsonify(device_id=device_id, status=identity.status,
                       changed_by=identity.changed_by)

    @app.get("/api/join-codes")
    def join_codes() -> Response:
        return jsonify(join_codes=[code.view() for code in desk.book.codes()])

    @app.post("/api/join-codes")
    def create_join_code() -> Response:
        body: Any = request.get_json(silent=True) if request.is_json else None
        try:
            ttl_s, max_devices = int(body["ttl_s"]), int(body["max_devices"])
            code, record = desk.create_code(ttl_s, max_devices, g.operator)
        except (TypeError, KeyError, ValueError) as exc:
            return _error(400, "bad_request",
                          f'send JSON {{"ttl_s": 3600, "max_devices": 3}} ({exc})')
        except NotStored as exc:
            return _error(503, "not_stored", str(exc))
        _AUDIT.info("join code created", extra={"operator": g.operator,
                                                 "code_id": record.code_id,
                                                 "max_devices": max_devices, "ttl_s": ttl_s})
        response = jsonify(code=code, **record.view())
        response.status_code = 201
        return response


def _add_routes(app: Flask, state: ConsoleState) -> None:
    _add_identity_routes(app, state)

    @app.get("/healthz")
    def healthz() -> Response:
        """503 while the console cannot read Kafka: what it shows is then out of date."""
        kafka = state.kafka.state
        response = jsonify(status="ok" if kafka.readable else "kafka_unreadable",
                           following=state.follower.assigned.is_set(),
                           devices=len(state.fleet), kafka=kafka.message())
        response.status_code = 200 if kafka.readable else 503
        return response

    @app.get("/")
    def page() -> Response:
        return app.send_static_file("index.html")

    @app.post("/login")
    def login() -> Response:
        """Sign in with an operator token: checked, then kept in an HttpOnly cookie."""
        body = request.get_json(silent=True) or {}
        token = str(body.get("token", "")).strip()
        if state.verifier is None:
            return jsonify(operator="local", auth=False)
        try:
            operator = state.verifier.verify(token).device_id
        except AuthError as exc:
            return _error(401, "unauthorized", f"not an operator token: {exc}")
        _AUDIT.info("operator signed in", extra={"operator": operator})
        response = jsonify(operator=operator, auth=True)
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict",
                            secure=request.is_secure, max_age=12 * 3600)
        return response

    @app.get("/api/remote-settings")
    def remote_settings() -> Response:
        """The settings an operator may change, with their help text."""
        return jsonify(settings=[{"name": s.name, "env": s.env, "help": s.help}
                                 for s in REMOTE_SETTINGS])

    @app.get("/api/devices")
    def devices() -> Response:
        views, kafka = state.device_views()
        return jsonify(devices=views, kafka=kafka, refresh_s=state.settings.refresh_s,
                       operator=g.operator)

    @app.get("/api/devices/<path:device_id>/utterances/<path:segment_id>/audio")
    def audio(device_id: str, segment_id: str) -> Response:
        view = state.device_view(device_id)
        recent = (view or {}).get("report") or {}
        where = next((r for r in recent.get("recent", []) if r["segment_id"] == segment_id),
                     None)
        if where is None:
            return _error(404, "not_found", "the device has not reported this utterance lately")
        try:
            wav = playback.read_wav(state.settings.kafka_bootstrap_servers,
                                    RecentUtterance(**where))
        except playback.NotFound as exc:
            return _error(404, "not_found", str(exc))
        _AUDIT.info("utterance played", extra={"operator": g.operator, "device_id": device_id,
                                               "segment_id": segment_id})
        return Response(wav, mimetype="audio/wav")

    @app.get("/api/devices/<path:device_id>")
    def device(device_id: str) -> Response:
        view = state.device_view(device_id)
        if view is None:
            return _error(404, "not_found", f"no device {device_id!r} is known")
        return jsonify(view)

    @app.put("/api/devices/<path:device_id>/settings")
    def change_settings(device_id: str) -> Response:
        body: Any = request.get_json(silent=True) if request.is_json else None
        if not isinstance(body, dict) or not isinstance(body.get("values"), dict):
            return _error(400, "bad_request",
                          'send JSON {"values": {"hangover_s": "0.8", ...}}: the whole desired set')
        if not is_id(device_id):
            return _error(400, "bad_request", "not a device id")
        values = {k: v for k, v in body["values"].items() if str(v).strip() != ""}
        try:
            record = state.writer.change(device_id, values, g.operator)
        except ConfigError as exc:
            return _error(400, "invalid_setting", str(exc))
        except NotStored as exc:
            return _error(503, "not_stored", str(exc))
        _AUDIT.info("settings changed", extra={"operator": g.operator, "device_id": device_id,
                                               "version": record.desired.version,
                                               "values": record.desired.values})
        return jsonify(device_id=device_id, desired_version=record.desired.version,
                       values=record.desired.values, changed_by=record.changed_by)

    @app.get("/metrics")
    def metrics() -> Response:
        views, kafka = state.device_views()
        return Response(exposition(views, bool(kafka["readable"])), mimetype="text/plain; version=0.0.4")

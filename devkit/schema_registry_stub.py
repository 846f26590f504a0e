"""A stub Schema Registry on a free loopback port that records what was registered.

It answers the two calls the gateway and `confluent_kafka`'s `AvroDeserializer` make: register
a schema under a subject (`POST /subjects/{subject}/versions`) and fetch one by id
(`GET /schemas/ids/{id}`). The same schema text keeps its id, as a real registry's does.
Any other call is recorded in `unanswered` and gets a 404 in the registry's error shape.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

_REGISTER = re.compile(r"^/subjects/([^/]+)/versions$")
_BY_ID = re.compile(r"^/schemas/ids/(\d+)$")


@dataclass(frozen=True)
class Registered:
    subject: str
    schema: str
    schema_type: str
    schema_id: int


class SchemaRegistryStub:
    def __init__(self, port: int = 0) -> None:
        self.registered: list[Registered] = []
        self.unanswered: list[str] = []
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, name="RegistryStub",
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SchemaRegistryStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def register(self, subject: str, body: dict[str, object]) -> int:
        schema = str(body["schema"])
        with self._lock:
            schema_id = self._ids.setdefault(schema, len(self._ids) + 1)
            self.registered.append(Registered(subject, schema, str(body.get("schemaType", "AVRO")),
                                              schema_id))
        return schema_id

    def schema_text(self, schema_id: int) -> str | None:
        with self._lock:
            return next((text for text, i in self._ids.items() if i == schema_id), None)


def _handler_for(registry: SchemaRegistryStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            match = _REGISTER.match(urlsplit(self.path).path)
            if match is None:
                return self._not_found()
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self._reply(200, {"id": registry.register(unquote(match[1]), body)})

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            match = _BY_ID.match(urlsplit(self.path).path)
            text = None if match is None else registry.schema_text(int(match[1]))
            if text is None:
                return self._not_found()
            self._reply(200, {"schema": text})

        def _not_found(self) -> None:
            registry.unanswered.append(f"{self.command} {self.path}")
            self._reply(404, {"error_code": 40401, "message": f"not in the stub: {self.path}"})

        def _reply(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return  # quiet: the test reads `registered` and `unanswered` instead

    return Handler

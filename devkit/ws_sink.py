"""A gateway that is only a socket: it speaks the audio protocol (`connected`, then
`published` for each `done`) and keeps nothing, so that what an agent spends can be counted
alone, with the network stubbed at the far end of its socket (bench.agent_instructions).

    python -m devkit.ws_sink PORT        # until SIGTERM

No Kafka, no limits beyond the protocol's announced ones; loopback only.
"""

from __future__ import annotations

import contextlib
import itertools
import signal
import socket
import sys
import threading
import uuid

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError

from ingress_common.pcm import duration_ms
from ingress_common.protocol import (
    Connected,
    Published,
    Start,
    encode_server,
    parse_client_text,
)

LIMITS: dict[str, float] = {"max_buffer_bytes": 1_470_000, "max_frame_bytes": 65_536, "idle_timeout_s": 10,
          "session_timeout_s": 60}
_OFFSETS = itertools.count()


def _serve(conn: socket.socket) -> None:
    ws = WSConnection(ConnectionType.SERVER)
    correlation_id = str(uuid.uuid4())
    segment_id = None
    audio_bytes = 0
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            ws.receive_data(data)
            out = b""
            for event in ws.events():
                if isinstance(event, Request):
                    out += ws.send(AcceptConnection())
                    out += ws.send(TextMessage(encode_server(Connected(correlation_id, LIMITS))))
                elif isinstance(event, BytesMessage):
                    audio_bytes += len(event.data)
                elif isinstance(event, TextMessage):
                    message = parse_client_text(event.data)
                    if isinstance(message, Start):
                        segment_id = message.segment_id
                    else:  # done
                        out += ws.send(TextMessage(encode_server(Published(
                            correlation_id, "sink", 0, next(_OFFSETS), audio_bytes,
                            duration_ms(audio_bytes), segment_id))))
                        out += ws.send(CloseConnection(1000, "published"))
                elif isinstance(event, CloseConnection):
                    with contextlib.suppress(LocalProtocolError):  # it answered our close
                        out += ws.send(event.response())
                    conn.sendall(out)
                    return
            if out:
                conn.sendall(out)


def main() -> int:
    port = int(sys.argv[1])
    server = socket.create_server(("127.0.0.1", port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        conn, _ = server.accept()
        threading.Thread(target=_serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())

"""A server that sends its first message in the same TCP segment as the 101 response: the
client must see it at once (simple-websocket 1.1.0 alone does not)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import simple_websocket
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

from ingress_common.websocket_client import Client


def eager_server() -> tuple[int, threading.Thread]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        ws = WSConnection(ConnectionType.SERVER)
        while True:
            ws.receive_data(conn.recv(4096))
            if any(isinstance(e, Request) for e in ws.events()):
                break
        # the handshake answer and the first message, in one send()
        conn.sendall(ws.send(AcceptConnection()) + ws.send(TextMessage('{"event":"connected"}')))
        conn.recv(4096)  # then wait for the client, sending nothing more
        conn.close()
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return port, thread


def test_first_message_in_the_handshake_segment_is_received_at_once() -> None:
    port, server = eager_server()
    ws = Client.connect(f"ws://127.0.0.1:{port}/")
    try:
        assert ws.receive(timeout=1) == '{"event":"connected"}'
    finally:
        ws.close()
        server.join(5)


def test_the_stock_client_misses_it_which_is_why_the_subclass_exists() -> None:
    port, server = eager_server()
    ws = simple_websocket.Client.connect(f"ws://127.0.0.1:{port}/")
    try:
        assert ws.receive(timeout=1) is None
    finally:
        ws.close()
        server.join(5)


def test_connect_with_timeout_gives_up_on_a_silent_server_and_restores_the_default() -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never answers
    try:
        began = time.monotonic()
        with pytest.raises(OSError):
            Client.connect_with_timeout(f"ws://127.0.0.1:{listener.getsockname()[1]}/", 0.3)
        assert time.monotonic() - began < 2.0
        assert socket.getdefaulttimeout() is None
    finally:
        listener.close()

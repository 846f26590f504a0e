"""A server that sends its first message in the same TCP segment as the 101 response: the
client must see it at once (simple-websocket 1.1.0 alone does not)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
import simple_websocket
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage
from wsproto.utilities import LocalProtocolError

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



def closing_server() -> tuple[int, threading.Thread]:
    """Accepts the handshake, waits for one message, then closes the WebSocket (as the
    gateway does after its final message)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        ws = WSConnection(ConnectionType.SERVER)
        while not any(isinstance(e, Request) for e in ws.events()):
            ws.receive_data(conn.recv(4096))
        conn.sendall(ws.send(AcceptConnection()))
        while not any(isinstance(e, TextMessage) for e in ws.events()):
            ws.receive_data(conn.recv(4096))
        conn.sendall(ws.send(CloseConnection(1000)))
        conn.close()
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return port, thread


def reader_thread_has_closed_the_socket(ws: simple_websocket.Client) -> None:
    """The race behind issue 11's dead delivery thread: the reader thread has closed the
    socket after the server's close frame, while the delivery thread still read
    `connected` as True just before (simulated by setting it back)."""
    ws.thread.join(5)
    assert ws.sock.fileno() == -1
    ws.connected = True


@pytest.mark.parametrize("client_class", [simple_websocket.Client, Client],
                         ids=["stock", "ours"])
def test_close_after_the_reader_thread_closed_the_socket(client_class: type) -> None:
    port, server = closing_server()
    ws = client_class.connect(f"ws://127.0.0.1:{port}/")
    ws.send('{"event":"done"}')
    reader_thread_has_closed_the_socket(ws)
    if client_class is simple_websocket.Client:
        with pytest.raises(OSError):  # EBADF: what killed the delivery thread
            ws.close()
    else:
        ws.close()  # a close of a closed connection is not a failure
        assert not ws.connected
    server.join(5)


@pytest.mark.parametrize("client_class", [simple_websocket.Client, Client],
                         ids=["stock", "ours"])
def test_send_after_the_reader_thread_closed_the_socket(client_class: type) -> None:
    """The same race on a send: the gateway answered a repeat at `start` and closed while
    the client was still streaming (a CI run's test client died of EBADF on its `done`).
    Ours raises ConnectionClosed with the server's close code, so the caller reads the
    reply the reader thread kept."""
    port, server = closing_server()
    ws = client_class.connect(f"ws://127.0.0.1:{port}/")
    ws.send('{"event":"start"}')
    reader_thread_has_closed_the_socket(ws)
    if client_class is simple_websocket.Client:
        # wsproto refuses in its closed state, or the socket send is EBADF
        with pytest.raises((OSError, LocalProtocolError)):
            ws.send('{"event":"done"}')
    else:
        with pytest.raises(simple_websocket.ConnectionClosed) as closed:
            ws.send('{"event":"done"}')
        assert closed.value.reason == 1000
    server.join(5)


def test_a_server_that_closes_during_the_handshake_is_a_connection_error() -> None:
    """A gateway killed mid-handshake: found by bench/random_faults.py, where wsproto's
    RemoteProtocolError reached the delivery thread's supervisor."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(4096)
        conn.close()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        with pytest.raises(simple_websocket.ConnectionError):
            Client.connect_with_timeout(f"ws://127.0.0.1:{listener.getsockname()[1]}/", 2.0)
    finally:
        server.join(5)
        listener.close()


def test_the_client_turns_nagle_off() -> None:
    """The agent sends `done` right after the last audio frames. With Nagle's algorithm on,
    the kernel may hold the small `done` until the frames are acknowledged, and the receiver
    delays its ACK by 40 ms: against the real gateway, 30 back-to-back 1 s utterances took
    49.9 ms from done to published with Nagle on and 6.7 ms with TCP_NODELAY (median,
    /tmp A/B in the issue-13 session). The client sets TCP_NODELAY on its socket."""
    port, thread = eager_server()
    client = Client.connect_with_timeout(f"ws://127.0.0.1:{port}/", 5.0, io_timeout_s=5.0)
    try:
        assert client.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        with contextlib.suppress(Exception):
            client.close()
        thread.join(5)

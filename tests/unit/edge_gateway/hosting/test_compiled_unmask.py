"""Frames unmasked in C give exactly what wsproto's own masker gives (issue 13)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

import pytest
import simple_websocket
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, Ping, Pong, Request
from wsproto.frame_protocol import FrameDecoder, XorMaskerSimple

from edge_gateway.hosting import compiled_unmask
from edge_gateway.hosting.compiled_unmask import (
    CompiledMasker,
    CompiledUnmaskDecoder,
    use_compiled_unmasking,
)
from edge_gateway.hosting.inline_websocket import InlineReading, InlineServer


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(max_size=3000), key=st.binary(min_size=4, max_size=4),
       cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=6))
def test_a_payload_in_any_pieces_unmasks_as_wsproto_does(payload: bytes, key: bytes,
                                                          cuts: list[int]) -> None:
    bounds = sorted({0, len(payload), *(c for c in cuts if c < len(payload))})
    pieces = [bytearray(payload[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    ours, theirs = CompiledMasker(key), XorMaskerSimple(key)
    assert (b"".join(bytes(ours.process(p)) for p in pieces)
            == b"".join(bytes(theirs.process(bytearray(p))) for p in pieces))


@pytest.fixture()
def accepted() -> Iterator[tuple[InlineServer, WSConnection, socket.socket]]:
    """A real InlineServer (as flask-sock builds it under gunicorn) over a socket pair."""
    server_sock, client_sock = socket.socketpair()
    client = WSConnection(ConnectionType.CLIENT)
    request = client.send(Request(host="gateway", target="/"))
    head = dict(line.split(": ", 1) for line in request.decode().split("\r\n")[1:] if line)
    environ = {"gunicorn.socket": server_sock,
               **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in head.items()}}
    server = simple_websocket.Server(environ, thread_class=InlineReading)
    client.receive_data(client_sock.recv(65536))
    assert any(isinstance(e, AcceptConnection) for e in client.events())
    assert isinstance(server, InlineServer)
    yield server, client, client_sock
    server_sock.close()
    client_sock.close()


def test_the_gateway_s_connections_unmask_in_c(
        accepted: tuple[InlineServer, WSConnection, socket.socket]) -> None:
    server, _client, _sock = accepted
    assert server.compiled_unmasking
    assert type(server.ws.connection._proto._frame_decoder) is CompiledUnmaskDecoder


@pytest.mark.parametrize("size", [0, 1, 125, 126, 3200, 65535, 65536, 200_003])
def test_messages_of_every_length_class_arrive_whole_in_odd_pieces(
        accepted: tuple[InlineServer, WSConnection, socket.socket], size: int) -> None:
    server, client, sock = accepted
    payload = os.urandom(size)
    wire = client.send(BytesMessage(data=payload)) + client.send(Ping(b"still there?"))

    def send_in_pieces() -> None:  # a prime: headers and keys split across reads
        for at in range(0, len(wire), 7919):
            sock.sendall(wire[at:at + 7919])

    sender = threading.Thread(target=send_in_pieces, daemon=True)
    sender.start()
    assert server.receive(timeout=5) == payload
    sender.join(5)
    sock.settimeout(5)
    client.receive_data(sock.recv(65536))
    assert [e.payload for e in client.events() if isinstance(e, Pong)] == [b"still there?"]


def test_without_the_c_extension_the_connection_keeps_wsproto_s_masker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    server = WSConnection(ConnectionType.SERVER)
    client = WSConnection(ConnectionType.CLIENT)
    server.receive_data(client.send(Request(host="gateway", target="/")))
    client.receive_data(server.send(AcceptConnection()))
    monkeypatch.setattr(compiled_unmask, "AVAILABLE", False)
    assert not use_compiled_unmasking(server)
    assert type(server.connection._proto._frame_decoder) is FrameDecoder
    server.receive_data(client.send(BytesMessage(data=b"masked in Python")))
    assert [bytes(e.data) for e in server.events()
            if isinstance(e, BytesMessage)] == [b"masked in Python"]


def test_a_connection_not_yet_accepted_is_left_alone() -> None:
    assert not use_compiled_unmasking(WSConnection(ConnectionType.SERVER))

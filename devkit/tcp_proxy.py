"""A small TCP proxy for fault tests: forwards loopback connections to a target port.

Faults: `cut` resets every open connection (a dropped network) and may refuse new ones;
`blackhole` makes the path silently dead (Wi-Fi gone, a NAT rebinding: bytes vanish,
nothing is closed) until `restore`; `cut_on(pattern)` resets a connection at the moment
the server sends bytes containing `pattern` (server frames are unmasked, so a reply such
as `"event":"published"` can be spotted) without forwarding them; `retarget` sends new
connections to another port (a load balancer switching gateways)."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

from devkit.ports import free_port

_BUFFER = 65536


class TcpProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._refusing = False
        self._closed = False
        self._dead: set[socket.socket] = set()
        """Sockets on a silently dead path: what they send is dropped, forever."""
        self._blackholing = False
        self._cut_pattern: bytes | None = None
        self._cuts_left = 0
        self.pattern_cuts = 0
        threading.Thread(target=self._accept_loop, name="proxy-accept", daemon=True).start()

    def cut(self, refuse: bool = True) -> int:
        """Reset every open connection; with `refuse`, reset new ones until `restore()`."""
        with self._lock:
            self._refusing = refuse
            victims, self._open = self._open, set()
        for sock in victims:
            _reset(sock)
        return len(victims) // 2

    def restore(self) -> None:
        """New connections are served again (the ones already dead stay dead)."""
        with self._lock:
            self._refusing = False
            self._blackholing = False

    def blackhole(self) -> int:
        """From now on nothing gets through, and nothing is closed, until `restore()`."""
        with self._lock:
            self._blackholing = True
            self._dead |= self._open
            return len(self._open) // 2

    def cut_on(self, pattern: bytes, times: int = 1) -> None:
        """Reset the next `times` connections whose server sends `pattern`."""
        with self._lock:
            self._cut_pattern, self._cuts_left = pattern, times

    def retarget(self, port: int) -> None:
        """New connections go to `port`."""
        with self._lock:
            self.target_port = port

    def close(self) -> None:
        self._closed = True
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refusing = self._refusing
            if refusing:
                _reset(client)
                continue
            with self._lock:
                target = self.target_port
            try:
                upstream = socket.create_connection(("127.0.0.1", target), timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open |= {client, upstream}
                if self._blackholing:
                    self._dead |= {client, upstream}
            for source, sink, from_server in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(target=self._pump, args=(source, sink, from_server),
                                 daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_server: bool) -> None:
        try:
            while data := source.recv(_BUFFER):
                if source in self._dead:
                    continue  # the path is dead: the bytes vanish
                if from_server and self._should_cut(data):
                    _reset(sink)
                    _reset(source)
                    return
                sink.sendall(data)
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
        except OSError:
            _reset(sink)
        finally:
            with self._lock:
                self._open.discard(source)


    def _should_cut(self, data: bytes) -> bool:
        with self._lock:
            if self._cut_pattern is None or self._cuts_left <= 0 or self._cut_pattern not in data:
                return False
            self._cuts_left -= 1
            self.pattern_cuts += 1
            return True


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a dropped link or a middlebox would."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()

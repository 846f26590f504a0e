"""What the stack itself costs per message, measured alone: the limit the gateway's receive
path cannot go under with wsproto (issue 13, "show the measurement that proves the limit").

    .venv/bin/python -m bench.receive_floor          # about 75 s, loopback only

1. Hot loop: a wsproto client masks and frames the bytes (what a device's simple-websocket
   client does), a wsproto server connection parses them into a message (what the gateway
   does for every frame), once with wsproto's Python unmasking and once unmasked in C as
   the gateway does (`edge_gateway/hosting/compiled_unmask.py`). Medians of 7 batches of
   200 frames.
2. Paced, over a real loopback TCP socket, 100 messages a second (ten realtime streams'
   worth) sent as pre-masked frames so the sender costs nothing: the CPU of the receiving
   thread (`time.thread_time`) per frame, medians of 5 interleaved runs, for
   - the least a Python receiver can do: select, `recv_into`, wsproto parse, nothing else;
   - the gateway's own path: `InlineServer` (the real simple-websocket handshake and event
     handling) and `AudioConnection`'s loop with its `StreamSession` (limits, rate limit,
     buffer, an ack every 10 frames).
   The difference between the two is ours; the first is the stack's floor.
3. The realtime scenario's shape: ten receiving threads, each paced at 10 frames a second
   with the starts staggered, and the sender in another process (as the load generator
   is), for both receivers. Every frame then wakes a thread that slept 100 ms: what the
   gateway's realtime frames cost, and what the CPU target has to fit.
"""

from __future__ import annotations

import base64
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import threading
import time

from simple_websocket import Server
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import BytesMessage, TextMessage
from wsproto.frame_protocol import XorMaskerSimple

from edge_gateway.hosting.compiled_unmask import use_compiled_unmasking
from edge_gateway.hosting.inline_websocket import InlineReading
from edge_gateway.limits import StreamLimits
from edge_gateway.metrics import GatewayMetrics
from edge_gateway.stream import AudioConnection, StreamHandler
from ingress_common.protocol import BYTES_PER_SECOND

FRAMES = [("realtime 100 ms", 3200), ("agent 250 ms", 8000), ("burst 64 KiB", 65536)]
BATCH = 200
REPEATS = 7
PACED_FRAMES = 600
PACED_INTERVAL_S = 0.01
PACED_ROUNDS = 5
REALTIME_FRAME = 3200
STREAMS = 10
STREAM_INTERVAL_S = 0.1
STREAM_FRAMES = 60
STREAM_ROUNDS = 3


def _frame(size: int) -> bytes:
    return bytes(range(256)) * (size // 256) + bytes(size % 256)


def mask_cost_s(frame: bytes) -> float:
    client = Connection(ConnectionType.CLIENT)
    runs = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        for _ in range(BATCH):
            client.send(BytesMessage(data=frame))
        runs.append((time.perf_counter() - began) / BATCH)
    return statistics.median(runs)


def unmask_cost_s(frame: bytes) -> float:
    """wsproto's unmasking alone (what every received byte costs in any wsproto parse)."""
    runs = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        for _ in range(BATCH):
            XorMaskerSimple(b"\x01\x02\x03\x04").process(bytearray(frame))
        runs.append((time.perf_counter() - began) / BATCH)
    return statistics.median(runs)


def parse_cost_s(frame: bytes, compiled_unmask: bool = False) -> float:
    """wsproto's parse of one frame; with `compiled_unmask`, as the gateway parses it."""
    client, server = Connection(ConnectionType.CLIENT), Connection(ConnectionType.SERVER)
    if compiled_unmask and not use_compiled_unmasking(server):
        raise RuntimeError("websockets' C speedups are missing")
    wire = b"".join(client.send(BytesMessage(data=frame)) for _ in range(BATCH))
    per_frame = len(wire) // BATCH
    runs = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        for i in range(BATCH):
            server.receive_data(wire[i * per_frame:(i + 1) * per_frame])
            for event in server.events():
                assert isinstance(event, BytesMessage) and event.message_finished
        runs.append((time.perf_counter() - began) / BATCH)
    return statistics.median(runs)


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client, server


def _send_paced(sock: socket.socket, head: list[bytes], frames: list[bytes],
                tail: list[bytes], interval_s: float) -> None:
    """The sender: pre-built wire bytes, one frame per interval, and it drains replies."""
    for data in head:
        sock.sendall(data)
    next_at = time.monotonic()
    for data in frames:
        next_at += interval_s
        time.sleep(max(0.0, next_at - time.monotonic()))
        sock.sendall(data)
        while select.select([sock], [], [], 0)[0] and sock.recv(65536):
            pass  # acks, the 101
    for data in tail:
        sock.sendall(data)


def receive_minimal(sock: socket.socket, frames: int) -> float:
    """The least a Python receiver can do per frame; returns the thread's CPU seconds."""
    parser, buffer = Connection(ConnectionType.SERVER), bytearray(65536)
    view, received = memoryview(buffer), 0
    began = time.thread_time()
    while received < frames:
        select.select([sock], [], [], 5.0)
        count = sock.recv_into(buffer)
        if not count:
            raise ConnectionError(f"sender closed after {received} of {frames} frames")
        parser.receive_data(view[:count])  # type: ignore[arg-type]  # any buffer will do
        received += sum(1 for e in parser.events() if isinstance(e, BytesMessage))
    return time.thread_time() - began


def receive_gateway(sock: socket.socket, frames: int) -> float:
    """The gateway's per-frame path up to `done` (no publish); the thread's CPU seconds."""
    key = base64.b64encode(os.urandom(16)).decode()
    environ = {"gunicorn.socket": sock, "REQUEST_METHOD": "GET", "PATH_INFO": "/ws/audio",
               "QUERY_STRING": "", "HTTP_HOST": "bench", "HTTP_UPGRADE": "websocket",
               "HTTP_CONNECTION": "Upgrade", "HTTP_SEC_WEBSOCKET_KEY": key,
               "HTTP_SEC_WEBSOCKET_VERSION": "13"}
    limits = StreamLimits(max_buffer_bytes=frames * REALTIME_FRAME,
                          max_messages_per_s=1e6, message_burst=10**6)
    # the server takes the request from the WSGI environ, as under gunicorn
    ws = Server(environ, receive_bytes=65536, max_message_size=4 * 65536,
                thread_class=InlineReading)
    handler = StreamHandler(limits, publisher=None, metrics=GatewayMetrics())  # type: ignore[arg-type]
    connection = AudioConnection(handler, ws, "bench", None, lambda: None)
    began = time.thread_time()
    connection._receive_until_done()  # the per-frame loop, up to done (no publish)
    spent = time.thread_time() - began
    assert connection.session.frames == frames
    return spent


RECEIVERS = {"minimal": receive_minimal, "gateway": receive_gateway}
RECEIVER_NAMES = {"minimal": "select + recv_into + wsproto, nothing else",
                  "gateway": "the gateway's path (InlineServer + AudioConnection loop)"}


def stream_wire(receiver: str, frames: int) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """What a device sends, masked and framed: (before the audio, the frames, after)."""
    masker = Connection(ConnectionType.CLIENT)
    audio = [masker.send(BytesMessage(data=_frame(REALTIME_FRAME))) for _ in range(frames)]
    if receiver == "minimal":
        return [], audio, []
    start = masker.send(TextMessage(data=json.dumps({"event": "start", "device_id": "bench"})))
    return [start], audio, [masker.send(TextMessage(data=json.dumps({"event": "done"})))]


def paced_one_thread_s(receiver: str) -> float:
    """One receiving thread, 100 frames a second, the sender a thread of this process."""
    client_sock, server_sock = _tcp_pair()
    head, frames, tail = stream_wire(receiver, PACED_FRAMES)
    sender = threading.Thread(target=_send_paced, args=(client_sock, head, frames, tail,
                                                        PACED_INTERVAL_S))
    sender.start()
    spent = RECEIVERS[receiver](server_sock, PACED_FRAMES)
    sender.join()
    client_sock.close()
    server_sock.close()
    return spent / PACED_FRAMES


def paced_streams_s(receiver: str) -> float:
    """STREAMS receiving threads at 10 frames a second each, starts staggered over one
    interval, the senders in a child process; the receivers' CPU per frame."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        sender = subprocess.Popen([sys.executable, "-m", "bench.receive_floor", "--send",
                                   str(listener.getsockname()[1]), receiver])
        socks = []
        for _ in range(STREAMS):
            sock, _ = listener.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            socks.append(sock)
    spent: list[float] = []
    threads = [threading.Thread(target=lambda s=sock: spent.append(
        RECEIVERS[receiver](s, STREAM_FRAMES))) for sock in socks]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if sender.wait(60) != 0 or len(spent) != STREAMS:
            raise RuntimeError("a paced stream did not complete")
    finally:
        sender.kill()  # a no-op once it has exited; never left running if a receiver failed
        sender.wait(10)
        for sock in socks:
            sock.close()
    return sum(spent) / (STREAMS * STREAM_FRAMES)


def send_streams(port: int, receiver: str) -> int:
    """The child process of paced_streams_s: STREAMS paced senders."""
    wires = [stream_wire(receiver, STREAM_FRAMES) for _ in range(STREAMS)]
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(STREAMS)]
    for sock in socks:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    began = time.monotonic() + 0.5  # every receiver is running by then

    def send(i: int) -> None:
        time.sleep(max(0.0, began + i * STREAM_INTERVAL_S / STREAMS - time.monotonic()))
        _send_paced(socks[i], *wires[i], STREAM_INTERVAL_S)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(STREAMS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(0.5)  # the receivers read the last frames before the close
    return 0


def main() -> int:
    print("Hot loop (no socket, no waits):\n")
    print("| frame | bytes | client mask + frame, µs | server parse + unmask, µs | "
          "of which unmask, µs | the gateway's parse (unmask in C), µs | "
          "parse s per audio-minute | parse-only ceiling, MB/s on one core |")
    print("|---|---|---|---|---|---|---|---|")
    for name, size in FRAMES:
        frame = _frame(size)
        mask, parse, unmask = mask_cost_s(frame), parse_cost_s(frame), unmask_cost_s(frame)
        ours = parse_cost_s(frame, compiled_unmask=True)
        per_audio_min = parse * (60 * BYTES_PER_SECOND / size)
        print(f"| {name} | {size} | {mask * 1e6:.1f} | {parse * 1e6:.1f} | {unmask * 1e6:.1f} | "
              f"{ours * 1e6:.1f} | "
              f"{per_audio_min:.4f} | {size / parse / 1e6:.0f} |")
    frames_per_audio_min = 60 * BYTES_PER_SECOND / REALTIME_FRAME
    shapes = [
        (f"Paced over loopback TCP, one thread: {PACED_FRAMES} frames of {REALTIME_FRAME} bytes, "
         f"one every {PACED_INTERVAL_S * 1000:g} ms, the sender a thread of this process",
         paced_one_thread_s, PACED_ROUNDS),
        (f"Paced over loopback TCP, the realtime scenario's shape: {STREAMS} threads, each "
         f"{STREAM_FRAMES} frames of {REALTIME_FRAME} bytes one every "
         f"{STREAM_INTERVAL_S * 1000:g} ms, starts staggered, the senders another process",
         paced_streams_s, STREAM_ROUNDS),
    ]
    for title, measure, rounds in shapes:
        print(f"\n{title}; receiving threads' CPU:\n")
        print("| receiver | CPU µs per frame, median (runs) | s per audio-minute (100 ms frames) |\n"
              "|---|---|---|")
        runs: dict[str, list[float]] = {name: [] for name in RECEIVERS}
        for _ in range(rounds):  # interleaved: the machine's noise falls on both alike
            for name in RECEIVERS:
                runs[name].append(measure(name))
        for name, values in runs.items():
            per_frame = statistics.median(values)
            spread = ", ".join(f"{v * 1e6:.0f}" for v in values)
            print(f"| {RECEIVER_NAMES[name]} | {per_frame * 1e6:.1f} ({spread}) | "
                  f"{per_frame * frames_per_audio_min:.4f} |")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--send"]:
        raise SystemExit(send_streams(int(sys.argv[2]), sys.argv[3]))
    raise SystemExit(main())

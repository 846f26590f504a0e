"""A two-hour file through `device-agent send` (issue 23): memory stays bounded, and with the
broker frozen and the gateway down part of the time no segment is dropped or repeated.
Counted in Kafka: records per segment, and the PCM put back together."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from device_agent.capture.wav import wav_file_pcm
from devkit.fault_rig import Rig, record_accounting
from devkit.file_send import delivered_segments, parse_send, start_send
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import ReadEvent
from ingress_common.protocol import BYTES_PER_SECOND
from tests.process_fixtures import TOPIC

pytestmark = pytest.mark.faults
SECONDS = int(os.environ.get("EDGE_SEND_FILE_S", 2 * 3600))
PEAK_RSS_LIMIT_MIB = 80
SEGMENT_S = 30
OUTAGE_S = 3.0
"""The gateway is down this long; the broker is frozen as long, once."""


def test_a_two_hour_file_is_sent_whole_in_bounded_memory_through_outages(tmp_path: Path) -> None:
    wav = tmp_path / "long.wav"
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(wav), "synth",
                    str(SECONDS), "sine", "200-3000", "gain", "-10"],
                   check=True, capture_output=True, timeout=300)
    rig = Rig.start(tmp_path)
    device = "send-two-hours"
    try:
        sending = start_send(rig.gateway.ws_url, device, wav)
        some = SECONDS // SEGMENT_S // 4
        _await_records(rig, device, some)
        rig.broker.freeze()  # slowed: Kafka stops answering for a while
        time.sleep(OUTAGE_S)
        rig.broker.thaw()
        _await_records(rig, device, 2 * some)
        port = rig.gateway.port
        rig.gateway.process.signal(signal.SIGKILL)  # down: the connection dies mid-segment
        rig.gateway.stop()
        time.sleep(OUTAGE_S)
        rig.gateway = GatewayProcess(tmp_path, rig.broker.bootstrap, TOPIC, port=port).start()
        out, err = sending.communicate(timeout=SECONDS / 4 + 300)
        run = parse_send(sending.returncode, out, err)
        assert run.returncode == 0, run.verdict

        segments = delivered_segments(rig.reader, rig.gateway.ws_url, device)
        ids = [e.headers["segment_id"] for e in segments]
        duplicates = len(ids) - len(set(ids))
        joined = b"".join(e.pcm for e in segments)
        expected = wav_file_pcm(wav)
        line = (f"send, {SECONDS} s file (gateway SIGKILLed and down {OUTAGE_S:g} s, broker "
                f"frozen {OUTAGE_S:g} s): {len(segments)} records, {len(set(ids))} segments, "
                f"{duplicates} duplicated, PCM {'identical' if joined == expected else 'DIFFERS'}"
                f" ({len(joined) / BYTES_PER_SECOND:.0f} of {len(expected) / BYTES_PER_SECOND:.0f} s),"
                f" agent peak RSS {run.peak_rss_kib / 1024:.1f} MiB, "
                f"attempts {run.summary.get('segments')} cut / {len(run.replies)} replies")
        print(line)
        record_accounting(line)
        assert duplicates == 0
        assert len(segments) == -(-SECONDS // SEGMENT_S)
        assert joined == expected
        assert 0 < run.peak_rss_kib < PEAK_RSS_LIMIT_MIB * 1024
    finally:
        rig.stop()


def _await_records(rig: Rig, device: str, count: int) -> None:
    def enough(events: list[ReadEvent]) -> bool:
        return sum(e.headers.get("device_id") == device for e in events) >= count

    assert enough(rig.reader.read_until(enough, 120)), f"{count} records of {device} in 120 s"

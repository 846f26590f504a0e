"""The device agent's footprint: RSS and CPU per real-time stream.

Runs the real `device-agent run` against a real gateway and broker with speech-like bursts
and pauses (about 60 % speech) played in real time, so the segmenter, spool and live uplink
all work as on a device. Samples /proc of the agent only. Two microphones, in one run:
- `wav-paced:` 16 kHz mono (the wire format: nothing to convert);
- a 48 kHz stereo S16_LE ALSA device through real libasound (devkit's fixed-format ioplug
  plugin), so the agent runs soxr (48 → 16 kHz) and the auto channel picker as on a USB
  microphone that offers only 48 kHz stereo.
Each with the default configuration and with the speech front end's options (issue 26):
the energy detector alone, noise suppression and gain (webrtc-noise-gain), the pymicro-vad
model; configurations interleaved within each run, so all see the same machine.

    .venv/bin/python -m bench.agent_footprint --seconds 60 --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.agent_instructions import measure
from devkit.agent_process import AgentProcess, write_wav
from devkit.alsa_fixture import FixtureDevice, alsa_env
from devkit.audio_analysis import encode_frames, samples_of
from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.procstat import Watch
from devkit.signals import utterances_with_pauses
from devkit.speech import sox_convert
from edge_gateway.settings import DEFAULT_TOPIC
from ingress_common.protocol import BYTES_PER_SECOND

TOPIC = DEFAULT_TOPIC
SAMPLE_EVERY_S = 0.5
RUN_TIMEOUT_S = 600


def one_run(workdir: Path, gateway: GatewayProcess, source: str, run: str, period_ms: int,
            settings: dict[str, str], live_s: float | None) -> dict[str, float]:
    """`live_s`: a live source (ALSA) never ends; it is stopped after that long."""
    agent = AgentProcess(workdir, gateway.ws_url, source, f"bench-{run}",
                         settings={"AGENT_PERIOD_MS": str(period_ms), **settings},
                         until_drained=live_s is None).start()
    assert agent.process is not None
    time.sleep(1.0)  # past interpreter start-up and imports: measure the steady state
    began = time.monotonic()
    with Watch([agent.process.pid], every_s=SAMPLE_EVERY_S) as watch:
        if live_s is None:
            agent.wait(RUN_TIMEOUT_S)
        else:
            time.sleep(live_s)
        elapsed = time.monotonic() - began
    acked = agent.status()["segments_acked"]
    agent.stop()
    return {"cpu_percent": 100 * watch.cpu_s / elapsed, "peak_rss_mib": watch.peak_rss / 2**20,
            "threads": watch.threads, "segments": float(str(acked))}


INSTRUCTIONS_OF = {
    "16 kHz mono, default": "default",
    "16 kHz mono, default, own key": "default",
    "16 kHz mono, energy only": "energy only",
    "16 kHz mono, + ns 2 agc 3": "+ ns 2 agc 3",
    "16 kHz mono, + micro-vad": "+ micro-vad",
    "48 kHz stereo, default": "48 kHz stereo, default",
    "48 kHz stereo, + ns 2 agc 3 + micro-vad": "48 kHz stereo, + ns 2 agc 3 + micro-vad",
}
"""Each configuration here, by its name in bench.agent_instructions (the same settings)."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--period-ms", type=int, default=100, help="the capture period")
    parser.add_argument("--instructions", action="store_true",
                        help="also count each configuration's instructions per audio-second "
                             "(bench.agent_instructions, callgrind; about ten minutes)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    count = max(1, int(args.seconds / 5))
    signal, _ = utterances_with_pauses(count, speech_s=3.0, pause_s=2.0, seed=1)
    mic = write_wav(workdir / "mic.wav", signal)
    audio_s = len(signal) / BYTES_PER_SECOND
    stereo48 = sox_convert(samples_of(signal), BYTES_PER_SECOND // 2, 48000)
    raw = workdir / "mic48.raw"
    raw.write_bytes(encode_frames(np.stack([stereo48, stereo48], axis=1), "S16_LE"))
    env = alsa_env(workdir / "home", [FixtureDevice("mic48", raw, 48000, 2)])
    wav16 = (f"wav-paced:{mic}", {}, None)
    alsa48 = ("alsa:mic48", {"HOME": env["HOME"]}, audio_s + 1.0)
    enhanced = {"AGENT_NOISE_SUPPRESSION": "2", "AGENT_AUTO_GAIN_DBFS": "3"}
    micro = {"AGENT_DETECTOR": "micro"}

    def configured(mic_: tuple[str, dict[str, str], float | None],
                   settings: dict[str, str]) -> tuple[str, dict[str, str], float | None]:
        return mic_[0], {**mic_[1], **settings}, mic_[2]
    mics = {
        "16 kHz mono, default": wav16,
        "16 kHz mono, default, own key": configured(
            wav16, {"AGENT_KEY_FILE": str(workdir / "device.key")}),
        "16 kHz mono, energy only": configured(wav16, {"AGENT_DETECTOR": "energy"}),
        "16 kHz mono, + ns 2 agc 3": configured(wav16, enhanced),
        "16 kHz mono, + micro-vad": configured(wav16, micro),
        "48 kHz stereo, default": alsa48,
        "48 kHz stereo, + ns 2 agc 3 + micro-vad": configured(alsa48, {**enhanced, **micro}),
    }
    broker = Broker(workdir).start()
    gateway: GatewayProcess | None = None
    results: dict[str, list[dict[str, float]]] = {}
    try:
        broker.create_topic(TOPIC)
        gateway = GatewayProcess(workdir, broker.bootstrap, TOPIC).start()
        for i in range(args.runs):  # interleaved, so both see the same machine
            for j, (name, (source, settings, live_s)) in enumerate(mics.items()):
                results.setdefault(name, []).append(one_run(
                    workdir, gateway, source, f"{i}-{j}", args.period_ms, settings, live_s))
    finally:
        if gateway is not None:
            gateway.stop()
        broker.stop()
    print(f"agent footprint: {args.runs} runs of {audio_s:.0f} s of audio in real time "
          f"({count} utterances each), capture period {args.period_ms} ms, medians\n")
    print(f"| figure | {' | '.join(results)} |\n|---|{'---|' * len(results)}")
    for key, label in (("cpu_percent", "CPU, % of one core"), ("peak_rss_mib", "peak RSS, MiB"),
                       ("threads", "threads"), ("segments", "segments delivered per run")):
        cells = []
        for runs in results.values():
            values = [r[key] for r in runs]
            cells.append(f"{statistics.median(values):.2f} ({', '.join(f'{v:.2f}' for v in values)})")
        print(f"| {label} | {' | '.join(cells)} |")
    if args.instructions:
        counts = measure(list(INSTRUCTIONS_OF.values()), 10.0, 40.0)
        cells = [f"{counts[INSTRUCTIONS_OF[name]].per_audio_second / 1e6:.1f}" for name in results]
        print(f"| million instructions per audio-second (callgrind) | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

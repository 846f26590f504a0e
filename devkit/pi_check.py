"""`make pi`: the agent installed, unit-tested and sending speech on arm64 and armhf Debian
bookworm, as on a Raspberry Pi (issue 34), in chroots run by qemu-user.

    python -m devkit.pi_check --arch arm64 --arch armhf

For each architecture:
1. A Debian bookworm chroot (debootstrap, minbase), built once and kept pristine in
   `--cache` (`/var/cache/edge-pi/ARCH` by default); each run works in a fresh copy of it
   (`ARCH-run`), so every install is a fresh box's first. qemu-user-static runs its
   binaries (binfmt).
2. This checkout's committed tree (`git archive HEAD`) goes to `/src` in it, and
   `scripts/install.sh agent` runs there as a newcomer runs it on a fresh box: apt, venv,
   pip. Its time and the venv's size are taken.
3. The agent's unit tests run there with the agent's own packages and pytest only.
4. The agent there (`device-agent send --vad`) sends spoken phrases to a broker and a gateway
   on this host; the records are read back from Kafka and each phrase must be in exactly
   one whole record.

Results go to bench/results/pi-*.md. Everything it starts it stops, by PID, and it unmounts
what it mounted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from devkit.agent_process import account, write_wav
from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.speech import loud_spans, phrases_with_pauses

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
QEMU = {"arm64": "aarch64", "armhf": "arm"}
READY = ".edge-pi-ready"
PHRASES = ["turn on the kitchen light", "what is the weather tomorrow",
           "set a timer for ten minutes", "play some quiet music"]
TOPIC = "pi.audio"


CLASSIFY = r"""
import importlib.metadata as m, pathlib
for d in sorted(m.distributions(), key=lambda d: d.metadata["Name"].lower()):
    name = d.metadata["Name"]
    where = str(d._path)
    if "/usr/lib/python3/dist-packages" in where:
        how = "Debian package"
    else:
        wheel = pathlib.Path(where, "WHEEL")
        tags = [l.split(":", 1)[1].strip() for l in wheel.read_text().splitlines()
                if l.startswith("Tag:")] if wheel.exists() else []
        how = ("built here" if tags and all(t.split("-")[-1].startswith("linux_") for t in tags)
               else "wheel (" + ", ".join(t.split("-")[-1] for t in tags)[:60] + ")")
    print(f"{name}	{d.version}	{how}")
"""
AGENT_DEPENDENCIES = ("simple-websocket", "pyalsaaudio", "numpy", "soxr", "webrtcvad-wheels",
                      "PyNaCl", "zeroconf", "cffi", "wsproto", "ifaddr")


@dataclass
class Step:
    name: str
    seconds: float
    ok: bool
    detail: str


def run(args: list[str], timeout_s: float, log: Path) -> tuple[bool, float, str]:
    """Run `args`, its output appended to `log`; (succeeded, seconds, last lines)."""
    began = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(args)}\n")
        out.flush()
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            ok = process.wait(timeout_s) == 0
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the chroot and all it started
            process.wait()
            out.write(f"\n(stopped after {timeout_s:g} s)\n")
            ok = False
    tail = log.read_text().splitlines()[-5:]
    return ok, time.monotonic() - began, "\n".join(tail)


def enable_binfmt(arch: str) -> None:
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    if not (binfmt / "register").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt)], check=True)
    subprocess.run(["update-binfmts", "--enable", f"qemu-{QEMU[arch]}"], check=False,
                   capture_output=True)


def ensure_chroot(arch: str, where: Path, log: Path) -> Step:
    """The chroot, from the cache when it was built before."""
    if (where / READY).exists():
        return Step("chroot (cached)", 0.0, True, str(where))
    shutil.rmtree(where, ignore_errors=True)
    where.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    # debootstrap's own default mirror: nothing of a registry's address is written here
    ok, _, tail = run(["debootstrap", "--foreign", f"--arch={arch}", "--variant=minbase",
                       "--include=ca-certificates", "bookworm", str(where)], 1800, log)
    if ok:
        ok, _, tail = run(["chroot", str(where), "/debootstrap/debootstrap", "--second-stage"],
                          2400, log)
    if ok:
        (where / READY).write_text(datetime.now(UTC).isoformat())
    return Step("chroot (debootstrap, built now)", time.monotonic() - began, ok, tail)


@contextlib.contextmanager
def mounted(where: Path) -> Iterator[None]:
    """/proc, /sys, /dev and the host's resolver in the chroot, for as long as it is used."""
    points = []
    try:
        for source, target, options in (("proc", "proc", ["-t", "proc"]),
                                        ("sysfs", "sys", ["-t", "sysfs"]),
                                        ("/dev", "dev", ["--bind"]),
                                        ("/dev/pts", "dev/pts", ["--bind"])):
            (where / target).mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", *options, source, str(where / target)], check=True)
            points.append(where / target)
        shutil.copyfile("/etc/resolv.conf", where / "etc/resolv.conf")
        trust_what_this_host_trusts(where)
        yield
    finally:
        for point in reversed(points):
            subprocess.run(["umount", "-l", str(point)], check=False)


def trust_what_this_host_trusts(where: Path) -> None:
    """The host's own added certificate authorities (a TLS-inspecting proxy's, say) in the
    chroot too, so that pip and apt there reach what they reach here."""
    local = Path("/usr/local/share/ca-certificates")
    added = list(local.glob("*.crt")) if local.is_dir() else []
    if not added:
        return
    target = where / "usr/local/share/ca-certificates"
    target.mkdir(parents=True, exist_ok=True)
    for certificate in added:
        shutil.copyfile(certificate, target / certificate.name)
    subprocess.run(in_chroot(where, "update-ca-certificates"), capture_output=True, timeout=600)


def copy_checkout(where: Path) -> None:
    src = where / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)


def in_chroot(where: Path, command: str) -> list[str]:
    return ["chroot", str(where), "/usr/bin/env", "-i", "HOME=/root", "LANG=C.UTF-8",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "/bin/bash", "-c", command]


def send_speech(arch: str, where: Path, log: Path) -> Step:
    """The agent in the chroot sends spoken phrases to a broker and gateway on this host."""
    workdir = Path(tempfile.mkdtemp(prefix=f"pi-{arch}-"))
    broker = Broker(workdir).start()
    began = time.monotonic()
    try:
        broker.create_topic(TOPIC, 1)
        gateway = GatewayProcess(workdir, broker.bootstrap, TOPIC).start()
        try:
            speech, spoken = phrases_with_pauses(PHRASES, pause_s=1.5, seed=3)
            spans = loud_spans(speech, spoken)
            write_wav(where / "tmp" / "speech.wav", speech)
            device = f"pi-{arch}"
            ok, _, tail = run(in_chroot(where, f"/opt/edge-audio-ingress/bin/device-agent send "
                                               f"--vad --timeout-s 600 --gateway-url "
                                               f"{gateway.ws_url} --device-id {device} "
                                               f"/tmp/speech.wav"), 900, log)
            reader = KafkaReader(broker.bootstrap, TOPIC)
            try:
                # `send` returned once every segment was confirmed: everything is in Kafka,
                # and a short read past the count shows any duplicate
                reader.read_until(lambda seen: len(seen) > len(PHRASES), 2.0)
                events = [e for e in reader.seen if e.headers.get("device_id") == device]
            finally:
                reader.close()
            counted = account(speech, spans, events)
            detail = (f"{counted.sent} phrases, {counted.records} records, {counted.lost} lost, "
                      f"{counted.duplicated} duplicated, {counted.truncated} truncated")
            return Step("send speech to this host's gateway, read back from Kafka",
                        time.monotonic() - began, ok and counted.exact, detail if ok else tail)
        finally:
            gateway.stop()
    finally:
        broker.stop()


def fresh_copy(pristine: Path, log: Path) -> Path:
    """A copy of the pristine chroot to install into: every run is a fresh box's first."""
    where = pristine.with_name(f"{pristine.name}-run")
    shutil.rmtree(where, ignore_errors=True)
    run(["cp", "-a", str(pristine), str(where)], 1800, log)
    return where


def check(arch: str, cache: Path, log: Path) -> list[Step]:
    enable_binfmt(arch)
    steps = [ensure_chroot(arch, cache / arch, log)]
    if not steps[-1].ok:
        return steps
    where = fresh_copy(cache / arch, log)
    with mounted(where):
        copy_checkout(where)
        ok, seconds, tail = run(in_chroot(where, "cd /src && ROOT= SYSTEMCTL=true "
                                                 "bash scripts/install.sh agent"), 5400, log)
        size = subprocess.run(["du", "-sm", str(where / "opt/edge-audio-ingress")],
                              capture_output=True, text=True).stdout.split("\t")[0]
        steps.append(Step("scripts/install.sh agent", seconds, ok,
                          f"venv {size} MB" if ok else tail))
        if not ok:
            return steps
        (where / "tmp/classify.py").write_text(CLASSIFY)
        listed = subprocess.run(in_chroot(where, "/opt/edge-audio-ingress/bin/python "
                                                 "/tmp/classify.py"),
                                capture_output=True, text=True, timeout=600).stdout
        found = {line.split("\t")[0].lower(): line.split("\t") for line in listed.splitlines()}
        how = "; ".join(f"{found[d.lower()][0]} {found[d.lower()][1]}: {found[d.lower()][2]}"
                        for d in AGENT_DEPENDENCIES if d.lower() in found)
        steps.append(Step("where each dependency came from", 0.0, True, how))
        ok, seconds, tail = run(in_chroot(
            where, "cd /src && /opt/edge-audio-ingress/bin/pip install -q pytest hypothesis && "
                   "/opt/edge-audio-ingress/bin/python -m pytest -q -p no:cacheprovider "
                   "tests/unit/device_agent"), 3600, log)
        steps.append(Step("the agent's unit tests", seconds, ok, tail.splitlines()[-1]))
        steps.append(send_speech(arch, where, log))
    return steps


def report(results: dict[str, list[Step]], log_dir: Path) -> str:
    host = platform.machine()
    lines = [f"# make pi, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
             f"`python -m devkit.pi_check {' '.join('--arch ' + a for a in results)}` "
             f"(Debian bookworm chroots under qemu-user on {host}; logs in {log_dir})", "",
             "| platform | step | result | seconds | detail |", "|---|---|---|---|---|"]
    for arch, steps in results.items():
        for step in steps:
            detail = step.detail.replace("\n", " ").replace("|", "/")[-900:]
            lines.append(f"| {arch} | {step.name} | {'ok' if step.ok else '**failed**'} | "
                         f"{step.seconds:.0f} | {detail} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", action="append", choices=sorted(QEMU), required=True)
    parser.add_argument("--cache", type=Path, default=Path("/var/cache/edge-pi"))
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="edge-pi-logs-"))
    results = {arch: check(arch, args.cache, log_dir / f"{arch}.log") for arch in args.arch}
    text = report(results, log_dir)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"pi-{'-'.join(args.arch)}-{datetime.now(UTC):%Y%m%d-%H%M%S}.md"
    out.write_text(text)
    print(f"written to {out}")
    return 0 if all(s.ok for steps in results.values() for s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())

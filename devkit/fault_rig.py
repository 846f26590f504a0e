"""A broker, a gateway and a real agent, and the helpers fault tests share: waiting on the
agent's status and the gateway's metrics, and accounting for every utterance."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import requests

from devkit.agent_process import Accounting, AgentProcess, account, write_wav
from devkit.broker import Broker
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader, ReadEvent
from devkit.signals import silence, utterances_with_pauses
from devkit.waiting import wait_for
from edge_gateway.settings import DEFAULT_TOPIC

TOPIC = DEFAULT_TOPIC
__all__ = ["TOPIC", "Rig", "Utterances", "active_connections", "events_of", "metric",
           "record_accounting", "status_value", "wait_for"]


def status_value(agent: AgentProcess, key: str) -> int:
    """A counter from the agent's status file; -1 before the first one is written."""
    try:
        return int(str(agent.status()[key]))
    except (FileNotFoundError, ValueError, KeyError):
        return -1


def metric(gateway: GatewayProcess, name: str) -> float:
    """A gateway metric (first sample with that exact name), -1 when unreachable."""
    try:
        text = requests.get(f"{gateway.http_url}/metrics", timeout=2).text
    except requests.RequestException:
        return -1
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else -1


def active_connections(gateway: GatewayProcess) -> float:
    return metric(gateway, "edge_gateway_active_connections")


def events_of(reader: KafkaReader, device_id: str, count: int, timeout_s: float) -> list[ReadEvent]:
    """Every event of `device_id`, once `count` distinct segments were seen (or the deadline)."""
    def mine(events: list[ReadEvent]) -> list[ReadEvent]:
        return [e for e in events if e.headers.get("device_id") == device_id]

    def enough(events: list[ReadEvent]) -> bool:
        return len({e.headers["segment_id"] for e in mine(events)}) >= count

    return mine(reader.read_until(enough, timeout_s))


@dataclass
class Rig:
    workdir: Path
    broker: Broker
    gateway: GatewayProcess
    reader: KafkaReader
    agents: list[AgentProcess] = field(default_factory=list)

    @classmethod
    def start(cls, workdir: Path, gateway_settings: dict[str, str] | None = None,
              command: list[str] | None = None) -> Rig:
        """`command`: another gateway command line (devkit's fault gateway)."""
        broker = Broker(workdir).start()
        broker.create_topic(TOPIC)
        gateway = GatewayProcess(workdir, broker.bootstrap, TOPIC,
                                 settings={"GATEWAY_PUBLISH_TIMEOUT_S": "3", **(gateway_settings or {})},
                                 command=command)
        gateway.start()
        return cls(workdir, broker, gateway, KafkaReader(broker.bootstrap, TOPIC))

    def agent(self, device_id: str, utterances: int = 6, speech_s: float = 2.0,
              pause_s: float = 1.5, url: str | None = None,
              settings: dict[str, str] | None = None, paced: bool = True,
              silent: bool = False) -> Utterances:
        """A real agent saying `utterances` (or, `silent`, nothing: it only delivers what
        its spool holds)."""
        signal, bursts = utterances_with_pauses(utterances, speech_s, pause_s,
                                                seed=sum(map(ord, device_id)))
        mic = write_wav(self.workdir / f"{device_id}.wav", silence(1.0) if silent else signal)
        source = f"{'wav-paced' if paced else 'wav'}:{mic}"
        agent = AgentProcess(self.workdir, url or self.gateway.ws_url, source,
                             device_id, settings=settings).start()
        self.agents.append(agent)
        return Utterances(device_id, signal, bursts, agent)

    def stop(self) -> None:
        self.broker.thaw()
        for agent in self.agents:
            agent.stop()
        with contextlib.suppress(RuntimeError):
            self.reader.close()
        self.gateway.stop()
        self.broker.stop()


@dataclass
class Utterances:
    """What one agent was given to say, and the agent saying it."""

    device_id: str
    signal: bytes
    bursts: list[tuple[int, int]]
    agent: AgentProcess

    def settle(self, reader: KafkaReader, title: str, timeout_s: float = 120) -> Accounting:
        """Wait for the agent to deliver everything and exit; print and return the accounting."""
        code = self.agent.wait(timeout_s)
        log = self.agent.process.log_text()[-3000:] if self.agent.process else ""
        assert code == 0, f"agent exited {code}:\n{log}"
        events = events_of(reader, self.device_id, len(self.bursts), 30)
        accounting = account(self.signal, self.bursts, events)
        status = self.agent.status()
        agent_line = (f"agent: attempts={status['segments_sent']} acked={status['segments_acked']} "
                      f"retried={status['segments_retried']} rejected={status['segments_rejected']}")
        print(accounting.table(title))
        print(agent_line)
        record_accounting(f"{accounting.table(title)}\n\n{agent_line}\n")
        return accounting


ACCOUNTING_FILE = Path(__file__).resolve().parents[1] / "test-artifacts" / "fault-accounting.md"


def record_accounting(text: str) -> None:
    """Kept for CI's output (.ci/run prints it): pytest hides what passing tests print."""
    ACCOUNTING_FILE.parent.mkdir(exist_ok=True)
    with ACCOUNTING_FILE.open("a") as out:
        out.write(text + "\n")

"""Many short utterances back to back through the real agent, gateway and broker.

Issue 11 found the agent's delivery thread dying (OSError EBADF from closing a socket the
reader thread had already closed) in 4 of 5 runs of 100 utterances, leaving the spool
undelivered. Each utterance must land as exactly one whole record, and the agent must
exit on its own with nothing left in its spool. `make faults` runs it at 1,000.
"""

from __future__ import annotations

import os
from pathlib import Path

from devkit.agent_process import AgentProcess, account, write_wav
from devkit.broker import Broker
from devkit.fault_rig import events_of, record_accounting
from devkit.gateway_process import GatewayProcess
from devkit.kafka_reader import KafkaReader
from devkit.signals import utterances_with_pauses

UTTERANCES = int(os.environ.get("EDGE_BACK_TO_BACK_UTTERANCES", "100"))


def test_short_utterances_back_to_back_are_all_delivered_once(
        broker: Broker, reader: KafkaReader, gateway: GatewayProcess, tmp_path: Path) -> None:
    signal, bursts = utterances_with_pauses(UTTERANCES, speech_s=1.0, pause_s=1.0, seed=5)
    wav = write_wav(tmp_path / "back-to-back.wav", signal)
    agent = AgentProcess(tmp_path, gateway.ws_url, f"wav:{wav}", "back-to-back").start()
    try:
        code = agent.wait(60 + UTTERANCES * 0.5)
        log = agent.process.log_text()[-3000:] if agent.process else ""
    finally:
        agent.stop()
    assert code == 0, f"agent exited {code}:\n{log}"
    status = agent.status()
    assert status["spool_depth"] == 0 and status["thread_errors"] == 0, status
    events = events_of(reader, "back-to-back", UTTERANCES, 60)
    accounting = account(signal, bursts, events)
    record_accounting(accounting.table(f"{UTTERANCES} short utterances back to back") + "\n")
    assert accounting.exact, accounting

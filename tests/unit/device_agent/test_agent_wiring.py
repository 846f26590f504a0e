"""The agent's hooks are constructor arguments: a caller's hook is heard beside the agent's
own bookkeeping, never instead of it (file_send once replaced it after construction)."""

from dataclasses import replace

from device_agent.agent import Agent
from device_agent.capture.fakes import PcmSource, silence_pcm
from device_agent.settings import AgentSettings
from ingress_common.protocol import Error, Published


def test_a_callers_delivery_hook_and_the_health_report_both_hear_a_verdict() -> None:
    heard: list[Published | Error | None] = []
    settings = replace(AgentSettings(), device_id="pi-wired", health_interval_s=7.0)
    agent = Agent(settings, lambda: PcmSource(silence_pcm(1.0)), on_delivered=heard.append)
    published = Published("c1", "speech.audio.ingress", 2, 41, 32000, 1000, "pi-wired:r:1")
    agent.sender._on_delivered(published)  # what the sender thread calls on a verdict
    assert heard == [published]
    report = agent.health_report("interval")
    assert [(r.segment_id, r.partition, r.offset) for r in report.recent] == \
        [("pi-wired:r:1", 2, 41)]
    assert report.since_delivery_s is not None and report.health_interval_s == 7.0

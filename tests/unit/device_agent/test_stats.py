import json
from pathlib import Path

from device_agent.stats import AgentStats, write_status_file


def test_snapshot_has_the_counters_and_no_lock() -> None:
    stats = AgentStats()
    stats.add(segments_acked=2, xruns=1)
    stats.set(spool_depth=3)
    snapshot = stats.snapshot()
    assert snapshot["segments_acked"] == 2 and snapshot["xruns"] == 1 and snapshot["spool_depth"] == 3
    assert not any(name.startswith("_") for name in snapshot)


def test_status_file_is_json_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    stats = AgentStats()
    write_status_file(path, stats.snapshot())
    stats.add(frames=160)
    write_status_file(path, stats.snapshot())
    data = json.loads(path.read_text())
    assert data["frames"] == 160 and "written_at" in data
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]

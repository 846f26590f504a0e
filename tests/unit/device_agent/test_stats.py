import json
from pathlib import Path

from device_agent.stats import AgentStats, write_status_file


def test_a_snapshot_is_a_typed_copy_that_later_counts_do_not_change() -> None:
    stats = AgentStats()
    stats.add(segments_acked=2, xruns=1)
    stats.set(spool_depth=3)
    snapshot = stats.snapshot()
    stats.add(segments_acked=5)
    assert (snapshot.segments_acked, snapshot.xruns, snapshot.spool_depth) == (2, 1, 3)
    assert stats.segments_acked == 7


def test_the_counters_by_name_have_no_lock() -> None:
    stats = AgentStats()
    stats.add(frames=160)
    counters = stats.as_dict()
    assert counters["frames"] == 160
    assert not any(name.startswith("_") for name in counters)


def test_status_file_is_json_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    stats = AgentStats()
    write_status_file(path, stats.as_dict())
    stats.add(frames=160)
    write_status_file(path, stats.as_dict())
    data = json.loads(path.read_text())
    assert data["frames"] == 160 and "written_at" in data
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]

from edge_gateway.fleet.report_rate import ReportRate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_per_interval() -> None:
    clock = Clock()
    rate = ReportRate(interval_s=5.0, burst=3, max_devices=10, clock=clock)
    assert [rate.admit("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rate.admit("a") == 5.0
    assert rate.admit("b") == 0.0  # another device has its own bucket
    clock.now += 2.5
    assert rate.admit("a") == 2.5
    clock.now += 2.5
    assert rate.admit("a") == 0.0


def test_buckets_are_bounded_by_devices() -> None:
    rate = ReportRate(interval_s=5.0, burst=1, max_devices=2, clock=Clock())
    for device in ("a", "b", "c"):
        rate.admit(device)
    assert len(rate) == 2
    assert rate.admit("a") == 0.0  # forgotten, so full again

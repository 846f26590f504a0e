import random

from device_agent.backoff import Backoff


def test_ceilings_double_from_the_base_up_to_the_cap() -> None:
    upper = Backoff(base_s=1.0, cap_s=30.0, uniform=lambda low, high: high)
    assert [upper.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]


def test_full_jitter_draws_between_zero_and_the_ceiling() -> None:
    draws: list[tuple[float, float]] = []

    def record(low: float, high: float) -> float:
        draws.append((low, high))
        return random.Random(len(draws)).uniform(low, high)

    backoff = Backoff(base_s=1.0, cap_s=30.0, uniform=record)
    delays = [backoff.next_delay() for _ in range(6)]
    assert [d[1] for d in draws] == [1, 2, 4, 8, 16, 30]
    assert all(0 <= delay <= high for delay, (_, high) in zip(delays, draws, strict=True))


def test_reset_starts_over() -> None:
    backoff = Backoff(uniform=lambda low, high: high)
    backoff.next_delay()
    backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 1.0


def test_huge_attempt_counts_stay_at_the_cap() -> None:
    assert Backoff(cap_s=30.0).ceiling(10_000) == 30.0

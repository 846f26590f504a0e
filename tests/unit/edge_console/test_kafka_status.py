from edge_console.kafka_status import KafkaStatus

START = 1_700_000_000_000


def test_unreadable_until_the_first_read_and_states_as_of_then() -> None:
    status = KafkaStatus(START)
    assert not status.state.readable and status.state.problem
    status.read(START + 1_000)
    status.read(START + 2_000)
    state = status.state
    assert state.readable and state.since_ms == START + 1_000
    assert state.as_of_ms(START + 9_000) == START + 9_000

    status.failed("Kafka does not answer: timed out")
    down = status.state
    assert not down.readable and down.since_ms == START + 2_000  # the last read
    assert down.as_of_ms(START + 40_000) == START + 2_000
    assert down.readable_since_ms() == 0
    assert down.message() == {"readable": False, "since_ms": START + 2_000,
                              "problem": "Kafka does not answer: timed out"}

    status.read(START + 41_000)
    back = status.state
    assert back.readable and back.readable_since_ms() == START + 41_000

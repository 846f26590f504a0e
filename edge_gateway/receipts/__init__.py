"""Exactly once per segment: claims and receipts in a Kafka topic, keyed by device.

`records` is the log's record types, `book` the bounded in-memory state they build,
`devices` the devices this gateway serves (the only ones it keeps), `follower` the
consumer thread that learns and follows their partitions, `scan` the look-ups in Kafka (a
record in the audio topic, a segment's history in the receipts topic), and `ledger` the
claim protocol that ties them together.
docs/protocol.md ("Exactly once") is the prose version.
"""

"""Exactly once per segment: claims and receipts in a Kafka topic every gateway follows.

`records` is the log's record types, `book` the bounded in-memory state they build,
`follower` the consumer thread that keeps the book current, `scan` the recovery look-up
in the audio topic, and `ledger` the claim protocol that ties them together.
docs/protocol.md ("Exactly once") is the prose version.
"""

"""Store-and-forward: every segment is kept until the gateway confirms it is in Kafka.

A segment is *open* while it is being captured (the uplink may already stream it live)
and *complete* once it ended. Bounded by bytes, segment count and age; when full the
policy drops the oldest segment (or refuses the newest) and counts it, or, for a file,
makes the writer wait. `model` holds the types, `memory` the spool in RAM, `directory`
the spool that also writes each completed segment to its own file (temp file, fsync,
rename) and replays them, oldest first, after a restart. An open segment lives only in
memory.
"""

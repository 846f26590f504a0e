"""Segmenting: PCM → utterances. `segmenter` and `voice_activity` are pure; `thread`
feeds them from the capture queue and writes segments into the spool.
"""

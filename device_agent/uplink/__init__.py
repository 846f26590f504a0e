"""Uplink: the spool → the gateway. `connection` streams one segment over one WebSocket
(built on `ingress_common.client`); `sender` delivers the oldest first, with backoff and
quarantine.
"""

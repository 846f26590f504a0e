"""gunicorn's gthread worker, telling systemd the truth: READY=1 once this worker has reached
Kafka (and serves), WATCHDOG=1 from its main loop, so a wedged loop stops the kicks."""

from __future__ import annotations

import threading
import time

from gunicorn.workers.gthread import ThreadWorker

from ingress_common.sd_notify import Notifier

READY_RETRY_S = 1.0


class NotifyingThreadWorker(ThreadWorker):
    systemd = Notifier({})

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.systemd = Notifier()
        state = self.wsgi.extensions["edge_gateway"]
        threading.Thread(target=self._announce_ready, args=(state.kafka,),
                         name="systemd-ready", daemon=True).start()

    def _announce_ready(self, kafka: object) -> None:
        while self.alive:
            problem = kafka.check_ready(2.0)  # type: ignore[attr-defined]
            if problem is None:
                self.systemd.ready(f"serving; Kafka topic {kafka.topic} reachable")  # type: ignore[attr-defined]
                return
            self.systemd.status(f"not ready: {problem}")
            time.sleep(READY_RETRY_S)

    def notify(self) -> None:
        super().notify()
        if self.systemd.ready_sent:
            self.systemd.watchdog()

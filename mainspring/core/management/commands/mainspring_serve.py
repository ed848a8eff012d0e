"""``mainspring serve``: migrate, then serve with gunicorn and one in-process worker.

The embedded default: one gunicorn process with threads (gthread), and a background
task worker thread started inside it after it forks (``post_worker_init``), so one
command runs everything. In production, run ``mainspring serve --no-worker`` behind a
reverse proxy and separate ``mainspring worker`` processes (docs/operations.md).
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter


class GracefulArbiter(Arbiter):
    """SIGINT (Ctrl+C) stops gracefully too, like SIGTERM: requests in flight finish."""

    def handle_int(self):
        self.handle_term()


class MainspringApplication(BaseApplication):
    """gunicorn configured in code: no shell, no config file to find."""

    def __init__(self, options: dict[str, Any], *, start_worker: bool):
        self.options = options
        self.start_worker = start_worker
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if self.start_worker:
            self.cfg.set("post_worker_init", _start_background_worker)
            self.cfg.set("worker_exit", _stop_background_worker)

    def load(self):
        from django.core.wsgi import get_wsgi_application

        return get_wsgi_application()

    def run(self) -> None:
        GracefulArbiter(self).run()


_background = None


def _start_background_worker(worker) -> None:
    global _background
    from mainspring.core.worker import BackgroundWorker

    _background = BackgroundWorker()
    _background.start_thread()
    worker.log.info("Background task worker %s started", _background.worker_id)


def _stop_background_worker(server, worker) -> None:
    if _background is not None:
        _background.stop(timeout=10)


class Command(BaseCommand):
    help = "Apply migrations, then serve Mainspring with gunicorn and an in-process worker."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--bind",
            default=os.environ.get("MAINSPRING_BIND", "127.0.0.1:8000"),
            help="host:port to listen on (default: MAINSPRING_BIND or 127.0.0.1:8000).",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=int(os.environ.get("MAINSPRING_THREADS", "8")),
            help="Request threads (default: MAINSPRING_THREADS or 8).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("MAINSPRING_WEB_PROCESSES", "1")),
            help="gunicorn processes (default: MAINSPRING_WEB_PROCESSES or 1).",
        )
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="Do not run a background task worker in the web process.",
        )
        parser.add_argument(
            "--no-migrate", action="store_true", help="Do not apply migrations first."
        )
        parser.add_argument(
            "--access-log", action="store_true", help="Log every request to stderr."
        )

    def handle(self, *args, **options) -> None:
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        # Connections opened by migrate must not be inherited by forked processes.
        connections.close_all()
        gunicorn_options: dict[str, Any] = {
            "bind": options["bind"],
            "workers": max(1, options["workers"]),
            "worker_class": "gthread",
            "threads": max(1, options["threads"]),
            "timeout": 60,
            "graceful_timeout": 20,
            "keepalive": 5,
            "errorlog": "-",
            "proc_name": "mainspring",
            # X-Forwarded-Proto only from our proxies: the same list that the client
            # address (core.client_address) believes X-Forwarded-For from.
            "forwarded_allow_ips": ",".join(settings.FORWARDED_ALLOW_IPS),
        }
        if options["access_log"]:
            gunicorn_options["accesslog"] = "-"
        bind = options["bind"]
        where = bind if bind.startswith("unix:") else f"http://{bind}/"
        self.stdout.write(f"Mainspring listening on {where} (Ctrl+C to stop)")
        self.stdout.flush()
        MainspringApplication(gunicorn_options, start_worker=not options["no_worker"]).run()

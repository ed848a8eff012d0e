"""The ``mainspring`` command: ``serve``, ``worker``, ``tasks``, ``demo`` and every Django command.

``mainspring serve`` migrates, then runs gunicorn with one in-process task worker (the
embedded default); ``mainspring worker`` runs a standalone worker (as many as you like,
against PostgreSQL); ``mainspring tasks`` lists dead background tasks and runs them
again. Anything else is passed to Django (``mainspring migrate``,
``mainspring createsuperuser``).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mainspring.settings")
    from django.core.management import execute_from_command_line

    if len(argv) > 1 and argv[1] == "serve":
        argv[1] = "mainspring_serve"
    elif len(argv) > 1 and argv[1] == "worker":
        argv[1] = "mainspring_worker"
    elif len(argv) > 1 and argv[1] == "tasks":
        argv[1] = "mainspring_tasks"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()

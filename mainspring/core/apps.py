from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "mainspring.core"
    label = "core"
    verbose_name = "Ticket core"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the periodic jobs)

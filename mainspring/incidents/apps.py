from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "mainspring.incidents"
    label = "incidents"
    verbose_name = "Incident management"

    def ready(self) -> None:
        # Registers the periodic jobs (auto-close) with core.periodic.
        from . import tasks  # noqa: F401

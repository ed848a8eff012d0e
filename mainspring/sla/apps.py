from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "mainspring.sla"
    label = "sla"
    verbose_name = "Service level management"

    def ready(self) -> None:
        # Subscribes the timers to ticket events (core.events) and registers the
        # escalation sweep with core.periodic.
        from . import subscribers, tasks  # noqa: F401

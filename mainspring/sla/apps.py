from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "mainspring.sla"
    label = "sla"
    verbose_name = "Service level management"

    def ready(self) -> None:
        # Subscribes the timers to ticket events (core.events) and registers the
        # escalation sweep with core.periodic.
        from mainspring.core.registry import register_demo

        from . import subscribers, tasks  # noqa: F401

        register_demo("mainspring.sla.demo.load_demo", order=5)
        register_demo("mainspring.sla.demo.fire_past_thresholds", order=900)

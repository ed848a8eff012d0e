from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "mainspring.incidents"
    label = "incidents"
    verbose_name = "Incident management"

    def ready(self) -> None:
        from mainspring.core.registry import Practice, register

        # Registers the periodic jobs (auto-close) with core.periodic.
        from . import tasks  # noqa: F401
        from .models import KIND, PREFIX
        from .states import INCIDENT_MACHINE

        register(
            Practice(
                kind=KIND,
                prefix=PREFIX,
                label="Incident",
                label_plural="Incidents",
                model_path="incidents.Incident",
                machine=INCIDENT_MACHINE,
                namespace="incidents",
                services="mainspring.incidents.services",
                api_register="mainspring.incidents.api.register",
                demo="mainspring.incidents.demo.load_demo",
                order=10,
            )
        )

from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "mainspring.incidents"
    label = "incidents"
    verbose_name = "Incident management"

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "mainspring.core"
    label = "core"
    verbose_name = "Ticket core"

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "mainspring.notifications"
    label = "notifications"

    def ready(self) -> None:
        # Subscribes the mail notifications to ticket events (core.events).
        from . import subscribers  # noqa: F401

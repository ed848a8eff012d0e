from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "mainspring.notifications"
    label = "notifications"

    def ready(self) -> None:
        # Subscribes the mail notifications to ticket events (core.events) and
        # registers the periodic sweep for stalled deliveries.
        from . import subscribers, tasks  # noqa: F401

from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "mainspring.knowledge"
    label = "knowledge"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Subscribers keep the incident search index and deflections in step with tickets;
        # tasks registers the daily index optimisation with core.periodic.
        from mainspring.core.registry import register_demo

        from . import subscribers, tasks  # noqa: F401

        # Before the tickets: a known-error article of the problem demo goes to the
        # reviewer this creates.
        register_demo("mainspring.knowledge.demo.load_demo", order=8)

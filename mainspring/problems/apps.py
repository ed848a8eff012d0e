from django.apps import AppConfig


class ProblemsConfig(AppConfig):
    name = "mainspring.problems"
    label = "problems"
    verbose_name = "Problem management"

    def ready(self) -> None:
        from mainspring.core.registry import Practice, register

        from .models import KIND, PREFIX
        from .states import PROBLEM_MACHINE

        register(
            Practice(
                kind=KIND,
                prefix=PREFIX,
                label="Problem",
                label_plural="Problems",
                model_path="problems.Problem",
                machine=PROBLEM_MACHINE,
                # Agent screens come with the generic workspace (issue 10, part 1).
                namespace=None,
                services="mainspring.problems.services",
                api_register="mainspring.problems.api.register",
                demo="mainspring.problems.demo.load_demo",
                order=20,
            )
        )

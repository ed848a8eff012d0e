from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "mainspring.identity"
    label = "identity"
    verbose_name = "Identity and access"

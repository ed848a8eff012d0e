from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "mainspring.portal"
    label = "portal"

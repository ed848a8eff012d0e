from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """The agent workspace every practice shares: queue, ticket page and its actions.

    It knows no practice: each one registers with ``core.registry`` and supplies its own
    fields, panels and actions; the rest (timeline, composer, attachments, watchers,
    links, presence, mentions, bulk actions, saved views, conflict screen) is here once.
    """

    name = "mainspring.workspace"
    label = "workspace"
    verbose_name = "Agent workspace"

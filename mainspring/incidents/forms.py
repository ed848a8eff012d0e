"""Forms of the agent workspace. They parse and label input; the services decide.

Validation that is a business rule (who may set what, subcategory belongs to category,
assignee is a member of the group) lives in ``incidents.services``; a
``TicketValidationError`` from there is put back on the form with ``apply_errors`` so
the user sees it beside the field, with their input kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlencode

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse

from mainspring.core.models import Channel, JournalKind, Level, LinkKind
from mainspring.core.priority import priority_label
from mainspring.core.widgets import SizeLimitedFileInput
from mainspring.identity.models import AssignmentGroup
from mainspring.workspace.forms import (
    AccessibleForm,
    UserChoiceField,
    agents_queryset,
)

from .models import Category, HoldReason, ResolutionCode
from .states import INCIDENT_MACHINE

User = get_user_model()

# --- Queue ---------------------------------------------------------------------------

OPEN_CHOICES = [("1", "Open"), ("0", "Closed"), ("any", "Open and closed")]
# Sorting is allowlisted: the URL names a column, never a database field.
SORTS = {
    "number": "id",
    "priority": "priority",
    "updated": "updated_at",
    "created": "created_at",
    "sla": "sla_breach_at",
}
# "sla" is "breaches soonest" only: the deadline index serves ascending order, and a
# latest-deadline-first list is of no use to anyone working a queue.
ASCENDING_ONLY = frozenset({"sla"})
DEFAULT_SORT = "-number"
FILTER_KEYS = ("is_open", "state", "priority", "group", "assignee", "sla", "q")
SLA_CHOICES = [("", "Any"), ("breached", "Breached"), ("at_risk", "At risk")]


def parse_sort(raw: str | None) -> str:
    """An allowlisted sort (``priority``, ``-updated``...); anything else is the default."""
    raw = (raw or "").strip()
    key = raw.lstrip("-")
    if key not in SORTS or raw.count("-") > 1 or (key in ASCENDING_ONLY and raw != key):
        return DEFAULT_SORT
    return raw


class QueueFilterForm(AccessibleForm):
    """Queue filters; every value is checked against a list, nothing reaches the ORM raw."""

    is_open = forms.ChoiceField(label="Status", choices=OPEN_CHOICES, required=False)
    state = forms.ChoiceField(label="State", required=False)
    priority = forms.TypedChoiceField(
        label="Priority",
        coerce=int,
        empty_value=None,
        required=False,
        choices=[("", "Any priority")] + [(str(p), priority_label(p)) for p in range(1, 6)],
    )
    group = forms.ChoiceField(label="Group", required=False)
    assignee = forms.ChoiceField(label="Assignee", required=False)
    sla = forms.ChoiceField(label="SLA", choices=SLA_CHOICES, required=False)
    q = forms.CharField(label="Text", required=False, max_length=200)

    def __init__(self, *args, groups=(), agents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("", "Any state"), *INCIDENT_MACHINE.choices()]
        self.fields["group"].choices = [("", "Any group"), ("mine", "My groups")] + [
            (str(g.pk), g.name) for g in groups
        ]
        self.fields["assignee"].choices = [
            ("", "Anyone"),
            ("me", "Me"),
            ("none", "Unassigned"),
        ] + [(str(u.pk), u.name) for u in agents]
        self.fields["q"].widget.attrs.update({"type": "search", "autocomplete": "off"})

    def valid_data(self) -> dict:
        """The values that passed; an invalid one is dropped (and reported), not fatal."""
        self.is_valid()
        data = {k: v for k, v in getattr(self, "cleaned_data", {}).items() if k not in self.errors}
        data["is_open"] = data.get("is_open") or "1"
        data["q"] = (data.get("q") or "").strip()
        return data


def canonical_query(filters: Mapping, sort: str = DEFAULT_SORT) -> str:
    """The filter as a stable query string: defaults omitted, keys in a fixed order."""
    params = []
    for key in FILTER_KEYS:
        value = filters.get(key)
        if value in (None, ""):
            continue
        if key == "is_open" and value == "1":
            continue
        params.append((key, str(value)))
    if sort != DEFAULT_SORT:
        params.append(("sort", sort))
    return urlencode(params)


class SaveViewForm(AccessibleForm):
    name = forms.CharField(label="View name", max_length=80)
    query = forms.CharField(required=False, max_length=1000, widget=forms.HiddenInput)


# --- Create and edit -----------------------------------------------------------------

LEVEL_CHOICES = Level.choices
CREATE_CHANNELS = [
    (Channel.PHONE, "Phone"),
    (Channel.EMAIL, "Email"),
    (Channel.UI, "Walk-in / agent workspace"),
    (Channel.PORTAL, "Portal"),
    (Channel.MONITORING, "Monitoring"),
]


class SubcategoryField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.name


class IncidentFieldsMixin(forms.Form):
    """Fields shared by create and the properties panel."""

    title = forms.CharField(label="Short description", max_length=200)
    description = forms.CharField(
        label="Description",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Markdown: **bold**, `code`, lists and links.",
    )
    category = forms.ModelChoiceField(
        label="Category",
        queryset=Category.objects.none(),
        required=False,
        empty_label="(none)",
    )
    subcategory = SubcategoryField(
        label="Subcategory",
        queryset=Category.objects.none(),
        required=False,
        empty_label="(none)",
    )
    impact = forms.ChoiceField(label="Impact", choices=LEVEL_CHOICES, initial=Level.MEDIUM)
    urgency = forms.ChoiceField(label="Urgency", choices=LEVEL_CHOICES, initial=Level.MEDIUM)
    major_incident = forms.BooleanField(label="Major incident", required=False)

    def setup_categories(self, categories, subcategories) -> None:
        """Querysets given by the view, so one page loads each list once."""
        self.fields["category"].queryset = categories
        self.fields["subcategory"].queryset = subcategories
        # With HTMX, choosing a category swaps in that category's subcategories.
        self.fields["category"].widget.attrs.update(
            {
                "hx-get": reverse("incidents:subcategories"),
                "hx-target": f"#{self['subcategory'].auto_id}",
                "hx-trigger": "change",
            }
        )


class IncidentCreateForm(IncidentFieldsMixin, AccessibleForm):
    requester = forms.CharField(
        label="Caller (requester)",
        required=False,
        max_length=254,
        help_text="Username or e-mail address. Leave empty to log it for yourself.",
    )
    channel = forms.ChoiceField(label="Reported by", choices=CREATE_CHANNELS, initial=Channel.PHONE)
    assignment_group = forms.ModelChoiceField(
        label="Assignment group",
        queryset=AssignmentGroup.objects.none(),
        required=False,
        empty_label="(none)",
    )
    assignee = UserChoiceField(
        label="Assignee", queryset=User.objects.none(), required=False, empty_label="(nobody)"
    )
    field_order = [
        "requester",
        "title",
        "description",
        "category",
        "subcategory",
        "impact",
        "urgency",
        "channel",
        "assignment_group",
        "assignee",
        "major_incident",
    ]

    def __init__(self, *args, groups=None, agents=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignment_group"].queryset = (
            groups if groups is not None else AssignmentGroup.objects.filter(active=True)
        )
        self.fields["assignee"].queryset = agents if agents is not None else agents_queryset()

    def clean_requester(self):
        raw = (self.cleaned_data.get("requester") or "").strip()
        if not raw:
            return None
        user = (
            User.objects.filter(Q(username__iexact=raw) | Q(email__iexact=raw), is_active=True)
            .order_by("id")
            .first()
        )
        if user is None:
            raise forms.ValidationError(f"No active user is called “{raw}”.")
        return user

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        if data.get("requester") is None:
            data.pop("requester", None)
        for name in ("assignment_group", "assignee"):
            if data.get(name) is None:
                data.pop(name)
        return data


class IncidentEditForm(IncidentFieldsMixin, AccessibleForm):
    """The properties panel. ``version`` is the one the user saw, so a stale save is refused."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def changed_values(self, incident) -> dict:
        """Only what differs from the incident, so unchanged fields are not rewritten."""
        out = {}
        for name in (
            "title",
            "description",
            "category",
            "subcategory",
            "impact",
            "urgency",
            "major_incident",
        ):
            value = self.cleaned_data.get(name)
            if name == "description":
                value = value or ""
            if getattr(incident, name) != value:
                out[name] = value
        return out


def edit_initial(incident) -> dict:
    return {
        "title": incident.title,
        "description": incident.description,
        "category": incident.category_id,
        "subcategory": incident.subcategory_id,
        "impact": incident.impact,
        "urgency": incident.urgency,
        "major_incident": incident.major_incident,
        "version": incident.version,
    }


# --- Detail actions ------------------------------------------------------------------


class CommentForm(AccessibleForm):
    # Internal first: the composer returns to "work note" after every post (UX item 4).
    kind = forms.ChoiceField(
        label="Visibility",
        choices=[
            (JournalKind.WORK_NOTE, "Internal work note (agents only)"),
            (JournalKind.COMMENT, "Public comment (the caller sees it)"),
        ],
        initial=JournalKind.WORK_NOTE,
        widget=forms.RadioSelect,
    )
    body = forms.CharField(
        label="Message", widget=forms.Textarea(attrs={"rows": 4}), max_length=65_536
    )
    # The newest journal entry the agent had on screen: a post after newer activity by
    # someone else is held back once, so nobody replies to a conversation they have not
    # read (UX item 11). Absent (an old page, a script) means "do not check".
    seen = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    # Shown only after a public comment mentioned colleagues (UX 17): the caller would
    # see the mention, so the agent says so once.
    confirm_public = forms.BooleanField(
        required=False, label="Yes, post it publicly: the caller will see the mention"
    )
    show_public_confirm = False


class ResolveForm(AccessibleForm):
    resolution_code = forms.ModelChoiceField(
        label="Resolution code",
        queryset=ResolutionCode.objects.none(),
        to_field_name="code",
        empty_label="Choose…",
    )
    resolution_notes = forms.CharField(
        label="Resolution notes", widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, codes=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["resolution_code"].queryset = (
            codes if codes is not None else ResolutionCode.objects.filter(active=True)
        )


class HoldForm(AccessibleForm):
    hold_reason = forms.ChoiceField(label="Reason", choices=[("", "Choose…"), *HoldReason.choices])


class ReasonForm(AccessibleForm):
    reason = forms.CharField(
        label="Reason (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class AssignForm(AccessibleForm):
    assignment_group = forms.ModelChoiceField(
        label="Group",
        queryset=AssignmentGroup.objects.none(),
        required=False,
        empty_label="(unchanged)",
    )
    assignee = UserChoiceField(
        label="Assignee",
        queryset=User.objects.none(),
        required=False,
        empty_label="(unchanged)",
    )

    def __init__(self, *args, groups=None, agents=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignment_group"].queryset = (
            groups if groups is not None else AssignmentGroup.objects.filter(active=True)
        )
        self.fields["assignee"].queryset = agents if agents is not None else agents_queryset()

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("assignment_group") and not data.get("assignee"):
            raise forms.ValidationError("Choose a group, an assignee or both.")
        return data


class AttachmentForm(AccessibleForm):
    file = forms.FileField(label="File", widget=SizeLimitedFileInput)


class WatcherForm(AccessibleForm):
    username = forms.CharField(label="Add a watcher (username)", max_length=150)

    def clean_username(self):
        raw = self.cleaned_data["username"].strip()
        user = User.objects.filter(username__iexact=raw, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"No active user is called “{raw}”.")
        return user


LINK_CHOICES = [
    ("parent", "Child of (set parent)"),
    ("child", "Parent of (add child)"),
] + [(k.value, k.label) for k in LinkKind]


class LinkForm(AccessibleForm):
    prefix = "link"  # "kind" is also the composer's field on the same page
    kind = forms.ChoiceField(label="Link type", choices=LINK_CHOICES)
    number = forms.CharField(label="Ticket number", max_length=30)


BULK_ACTIONS = [
    ("assign_me", "Assign to me"),
    ("assign", "Assign to…"),
    ("start", "Start work"),
    ("resume", "Resume"),
]
BULK_LIMIT = 100
_NUMBER_RE = re.compile(r"^INC\d{1,12}$")


class BulkForm(AccessibleForm):
    """Selected rows (``ids``: incident numbers) and what to do to each of them."""

    prefix = "bulk"  # the filter form on the same page has an "assignee" too

    action = forms.ChoiceField(label="With selected", choices=BULK_ACTIONS)
    assignee = UserChoiceField(
        label="Assignee", queryset=User.objects.none(), required=False, empty_label="(choose)"
    )

    def __init__(self, *args, agent_list=None, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        field.queryset = agents_queryset()
        if agent_list is not None:
            # The queue already loaded the agents; render from that list, no second query.
            field.choices = [("", field.empty_label)] + [
                (u.pk, field.label_from_instance(u)) for u in agent_list
            ]

    def clean(self):
        data = super().clean()
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        numbers = [n for n in dict.fromkeys(r.strip().upper() for r in raw) if n]
        if not numbers:
            raise forms.ValidationError("Select at least one incident.")
        if len(numbers) > BULK_LIMIT or not all(_NUMBER_RE.match(n) for n in numbers):
            raise forms.ValidationError(f"Choose up to {BULK_LIMIT} incidents from the list.")
        if data.get("action") == "assign" and not data.get("assignee"):
            self.add_error("assignee", "Choose who to assign the incidents to.")
        data["ids"] = numbers
        return data


class PresenceForm(forms.Form):
    """What the incident page reports every 10 s (see ``views.presence``)."""

    typing = forms.BooleanField(required=False)
    version = forms.IntegerField(required=False, min_value=0)
    shown = forms.CharField(required=False, max_length=2000)

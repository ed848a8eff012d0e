"""Requester forms. They only parse input; the incident services validate and decide."""

from __future__ import annotations

from django import forms

from mainspring.core.services import TicketValidationError
from mainspring.core.widgets import SizeLimitedFileInput
from mainspring.identity.forms import AccessibleFormMixin
from mainspring.incidents.services import categories_for

__all__ = ["AttachForm", "CommentForm", "ConfirmForm", "ReopenForm", "ReportForm", "add_errors"]


class ReportForm(AccessibleFormMixin, forms.Form):
    title = forms.CharField(
        label="Short description",
        max_length=200,
        help_text="What is wrong, in a few words, e.g. “Printer on floor 3 jams”.",
    )
    description = forms.CharField(
        label="Details",
        required=False,
        max_length=65_536,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="What happened, since when, and any error message you saw.",
    )
    category = forms.ModelChoiceField(
        label="Category",
        queryset=categories_for().none(),
        required=False,
        empty_label="Not sure",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = categories_for().order_by("name")

    def clean_title(self) -> str:
        return self.cleaned_data["title"].strip()


class CommentForm(AccessibleFormMixin, forms.Form):
    body = forms.CharField(
        label="Add a comment",
        max_length=65_536,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="The service desk sees your comment and is notified.",
    )


class AttachForm(AccessibleFormMixin, forms.Form):
    file = forms.FileField(
        label="Attach a file",
        help_text="A screenshot or a log file.",
        widget=SizeLimitedFileInput,
    )


class VersionForm(AccessibleFormMixin, forms.Form):
    # The version the person saw: if an agent changed the ticket meanwhile, the service
    # refuses rather than acting on a state the person did not see.
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class ReopenForm(VersionForm):
    reason = forms.CharField(
        label="What is still wrong?",
        required=False,
        max_length=65_536,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ConfirmForm(VersionForm):
    pass


def add_errors(form: forms.Form, exc: TicketValidationError) -> None:
    """Show a service's field errors on the form; unknown fields go to the summary."""
    for name, messages in exc.fields.items():
        for message in messages:
            form.add_error(name if name in form.fields else None, message)

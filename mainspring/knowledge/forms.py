"""Forms for the knowledge pages; validation of substance stays in services."""

from __future__ import annotations

from django import forms
from django.conf import settings

from mainspring.core.widgets import SizeLimitedFileInput
from mainspring.identity.models import AssignmentGroup
from mainspring.incidents.models import Category

from .models import ArticleKind, Audience


class ArticleForm(forms.Form):
    title = forms.CharField(max_length=200)
    summary = forms.CharField(
        max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    body = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 16}),
        help_text="Markdown: # headings, **bold**, lists, [links](https://…), ![images](…). "
        "Files and images are uploaded below the form once the article is saved.",
    )
    kind = forms.ChoiceField(choices=ArticleKind.choices, label="Type")
    category = forms.ModelChoiceField(
        queryset=Category.objects.filter(active=True, parent__isnull=True), required=False
    )
    tags = forms.CharField(max_length=300, required=False, help_text="Words separated by spaces.")
    audience = forms.ChoiceField(choices=Audience.choices)
    groups = forms.ModelMultipleChoiceField(
        queryset=AssignmentGroup.objects.filter(active=True),
        required=False,
        help_text="Only for the 'Named groups' audience.",
    )
    review_by = forms.DateField(
        required=False,
        label="Review by",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    related = forms.CharField(
        max_length=500,
        required=False,
        label="Related articles",
        help_text="Article numbers separated by commas, e.g. KB0001002, KB0001005.",
    )
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("version", None)
        data["groups"] = list(data["groups"])
        return data


class ArticleFileForm(forms.Form):
    file = forms.FileField(label="Add a file or image", widget=SizeLimitedFileInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit = settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)
        self.fields[
            "file"
        ].help_text = f"Up to {limit} MB. PNG, JPEG, GIF and WebP images can be shown in the body."


class SendBackForm(forms.Form):
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="What to change")


class FeedbackForm(forms.Form):
    helpful = forms.TypedChoiceField(
        choices=[("yes", "Yes"), ("no", "No")], coerce=lambda v: v == "yes"
    )
    comment = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class SearchFilterForm(forms.Form):
    """Narrow a knowledge search by type, category and tag (all optional).

    A value that does not validate is reported by its field and left out of the search,
    like the queue's filters: the search still answers.
    """

    type = forms.ChoiceField(
        label="Type", choices=[("", "Any type"), *ArticleKind.choices], required=False
    )
    category = forms.ModelChoiceField(
        queryset=Category.objects.filter(active=True, parent__isnull=True),
        required=False,
        empty_label="Any category",
    )
    tag = forms.RegexField(
        regex=r"^[\w-]{1,50}$",
        required=False,
        max_length=50,
        error_messages={"invalid": "One tag: letters, digits, - or _."},
    )

    def search_kwargs(self) -> dict:
        """The valid filters as ``search.search_articles`` keywords."""
        self.is_valid()
        data = {k: v for k, v in getattr(self, "cleaned_data", {}).items() if k not in self.errors}
        out: dict = {}
        if data.get("type"):
            out["kind"] = data["type"]
        if data.get("category"):
            out["category"] = data["category"].pk
        if data.get("tag"):
            out["tag"] = data["tag"]
        return out

"""Sign-in, password and API token forms."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.validators import MaxLengthValidator

from .services import TOKEN_NAME_MAX

# One message for an unknown user, a wrong password and an inactive account, so the
# form never tells an attacker which usernames exist.
INVALID_LOGIN = "That username and password did not match. Check both and try again."


class AccessibleFormMixin:
    """Links each field to its help text and its errors (``aria-describedby``).

    Errors added after validation (from a service) are linked too, since every error
    goes through ``add_error``. The ids match ``portal/_field.html``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.fields:
            self._describe(name)

    def _describe(self, name: str, *, invalid: bool = False) -> None:
        field = self.fields[name]
        auto_id = self[name].auto_id
        if not auto_id:
            return
        ids = []
        if field.help_text:
            ids.append(f"{auto_id}_helptext")
        if invalid:
            ids.append(f"{auto_id}_error")
            field.widget.attrs["aria-invalid"] = "true"
        if ids:
            field.widget.attrs["aria-describedby"] = " ".join(ids)

    def add_error(self, field, error):
        super().add_error(field, error)
        names = [field] if isinstance(field, str) else list(getattr(error, "error_dict", {}))
        for name in names:
            if name in self.fields:
                self._describe(name, invalid=True)


class LoginForm(AccessibleFormMixin, AuthenticationForm):
    """Django's form (autocomplete hints, paste allowed) with one neutral error message."""

    error_messages = {
        "invalid_login": INVALID_LOGIN,
        "inactive": INVALID_LOGIN,
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        # Django sets max_length after building the field, so nothing checks it: a name
        # longer than any account's is a field error, and no sign-in is attempted.
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(username.max_length))
        username.widget.attrs.update(
            {"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        )
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class ChangePasswordForm(AccessibleFormMixin, PasswordChangeForm):
    """Checks the current password and the password validators; the service saves."""


class TokenForm(AccessibleFormMixin, forms.Form):
    name = forms.CharField(
        label="Token name",
        max_length=TOKEN_NAME_MAX,
        help_text="What will use it, e.g. “monitoring script”.",
    )

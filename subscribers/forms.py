from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from policies.models import Region, RegionKind, Theme
from subscribers.models import Scope


class PreferencesForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, required=False, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    organisation = forms.CharField(
        label=_("Organisation"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    provinces = forms.ModelMultipleChoiceField(
        label=_("Provinces"),
        queryset=Region.objects.filter(kind=RegionKind.PROVINCE).order_by("code"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    themes = forms.ModelMultipleChoiceField(
        label=_("Themes"),
        queryset=Theme.objects.all(),
        to_field_name="slug",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    scope = forms.ChoiceField(label=_("Receive"), choices=Scope.choices, initial=Scope.WHOLE, widget=forms.RadioSelect)
    weekly = forms.BooleanField(
        label=_("Also send me a weekly news flash"),
        required=False,
        help_text=_(
            "Every Monday, the entries newly added to the library that match your provinces and themes (all new "
            "entries if you choose none); no mail in a week with nothing new."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # 北京, 内蒙古 rather than 北京市, 内蒙古自治区: short labels fit four to a row on a phone.
        self.fields["provinces"].label_from_instance = lambda region: region.short_name or region.name

    def clean(self):
        data = super().clean()
        if data.get("scope") == Scope.MATCHING and not (data.get("provinces") or data.get("themes")):
            raise forms.ValidationError(_("To receive only what matches, choose at least one province or theme."))
        return data

    def service_kwargs(self):
        data = self.cleaned_data
        return {
            "name": data["name"],
            "organisation": data["organisation"],
            "provinces": [region.code for region in data["provinces"]],
            "themes": [theme.slug for theme in data["themes"]],
            "scope": data["scope"],
            "weekly": data["weekly"],
        }


class SubscribeForm(PreferencesForm):
    email = forms.EmailField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"})
    )
    # China's PIPL: personal information is collected only with consent to a notice the person could read first
    # (the page links it next to this box); the notice's version is recorded with the consent.
    consent = forms.BooleanField(
        label=_(
            "I have read the privacy notice and agree that my email address, name and organisation are used to "
            "send me the briefing."
        ),
        error_messages={"required": _("Please read the privacy notice and tick this box to subscribe.")},
    )
    # A field people do not see: bots fill it in, and are then told the same as everyone else.
    website = forms.CharField(required=False, widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}))

    field_order = ["email", "name", "organisation", "provinces", "themes", "scope", "weekly", "consent"]

    def clean_email(self):
        """The canonical address (``normalise_email``), which must itself be a plain address: a quoted or
        escaped local part ("victim"@…) would be one more spelling of a mailbox that rate limits key on."""
        from subscribers.services import normalise_email

        email = normalise_email(self.cleaned_data["email"])
        local = email.rpartition("@")[0]
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError(_("Enter a plain email address, such as name@example.com.")) from None
        if any(char in local for char in '"\\ '):
            raise ValidationError(_("Enter a plain email address, such as name@example.com."))
        return email


class CsvImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"), help_text=_("Columns: email, name, organisation, provinces, themes, scope.")
    )
    source = forms.CharField(label=_("Source"), max_length=100, help_text=_("Where these addresses come from."))
    consented = forms.BooleanField(
        label=_("These people have already consented"),
        required=False,
        help_text=_("Otherwise each one receives a confirmation mail and gets nothing until they confirm."),
    )

    def clean_file(self):
        from policies.imports import ImportRefused, import_file_check_size

        uploaded = self.cleaned_data["file"]
        try:
            import_file_check_size(uploaded.size)  # DGD_IMPORT_MAX_FILE_SIZE, as for the catalogue's imports
        except ImportRefused as refused:
            raise forms.ValidationError(refused.messages) from None
        return uploaded

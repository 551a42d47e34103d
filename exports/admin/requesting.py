"""The admin's "request an export" page: a form built from the export type registry.

Every type's parameters are fields (named `<type>__<parameter>`), grouped per type; only the
chosen type's fields are read. Validation beyond the field types is the type's own
`parse_parameters`, run by `export_request`, whose errors the view shows on this form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, cast

from django import forms
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from campaigns.models import Campaign
from exports import permissions
from exports.admin import display
from exports.admin.actions import correlation_id, export_link
from exports.errors import ApiError
from exports.services import export_request
from exports.types import EXPORT_TYPES
from exports.types.base import ExportType, Parameter

DEFAULT_TYPE = "entries"


def parameter_field_name(export_type: ExportType, parameter: Parameter) -> str:
    return f"{export_type.key}__{parameter.name}"


def parameter_label(parameter: Parameter) -> str:
    """`includeAllMarkets` → "Include all markets"."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", parameter.name).lower().capitalize()


class _FieldOptions(TypedDict):
    label: str
    help_text: str
    required: bool


def parameter_field(parameter: Parameter) -> forms.Field:
    """boolean → checkbox, integer → number input, anything else → text input. Never required at
    the form level (the fields of the types not chosen stay empty); `clean` checks the chosen one."""
    common: _FieldOptions = {"label": parameter_label(parameter), "help_text": parameter.description, "required": False}
    if parameter.type == "boolean":
        return forms.BooleanField(initial=bool(parameter.default), **common)
    if parameter.type == "integer":
        return forms.IntegerField(initial=parameter.default, **common)
    return forms.CharField(initial=parameter.default or "", **common)


@dataclass(frozen=True)
class ParameterRow:
    field: forms.BoundField
    required: bool


@dataclass(frozen=True)
class TypeSection:
    key: str
    label: str
    description: str
    rows: list[ParameterRow]


class ExportRequestForm(forms.Form):
    campaign = forms.ModelChoiceField(queryset=Campaign.objects.none(), empty_label="Choose a campaign")
    export_type = forms.ChoiceField(label="Export type")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # self.fields holds copies of the declared fields above (the stubs type them as plain Field).
        campaign_field = cast(forms.ModelChoiceField, self.fields["campaign"])
        campaign_field.queryset = permissions.visible_campaigns(user).order_by("name", "pk")
        type_field = cast(forms.ChoiceField, self.fields["export_type"])
        type_field.choices = [(key, f"{t.label} ({key})") for key, t in EXPORT_TYPES.items()]
        for export_type in EXPORT_TYPES.values():
            for parameter in export_type.parameters:
                self.fields[parameter_field_name(export_type, parameter)] = parameter_field(parameter)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        export_type = EXPORT_TYPES.get(cleaned.get("export_type") or "")
        if export_type is not None:
            for parameter in export_type.parameters:
                name = parameter_field_name(export_type, parameter)
                if parameter.required and parameter.type != "boolean" and cleaned.get(name) in (None, ""):
                    self.add_error(name, "This field is required.")
        return cleaned

    def request_body(self) -> dict:
        """The same body the API takes: exportType plus the chosen type's filled-in parameters."""
        export_type = EXPORT_TYPES[self.cleaned_data["export_type"]]
        body: dict = {"exportType": export_type.key}
        for parameter in export_type.parameters:
            value = self.cleaned_data.get(parameter_field_name(export_type, parameter))
            if value is not None and value != "":
                body[parameter.name] = value
        return body

    def type_sections(self) -> list[TypeSection]:
        return [
            TypeSection(
                key=export_type.key,
                label=export_type.label,
                description=export_type.description,
                rows=[
                    ParameterRow(self[parameter_field_name(export_type, parameter)], parameter.required)
                    for parameter in export_type.parameters
                ],
            )
            for export_type in EXPORT_TYPES.values()
        ]


if TYPE_CHECKING:
    from django.contrib import admin

    from exports.models import Export

    # Mixed into ExportAdmin: type-check against the ModelAdmin it always extends.
    _AdminBase = admin.ModelAdmin[Export]
else:
    _AdminBase = object


class ExportRequestMixin(_AdminBase):
    """For ExportAdmin: the request page, creating the job through export_request."""

    def request_view(self, request):
        """Request an export for a campaign: the API's service (export_request), dedupe included."""
        if not permissions.user_can(request.user, "request"):
            self.message_user(request, "You do not have permission to request exports.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:index"))
        if request.method == "POST":
            form = ExportRequestForm(request.POST, user=request.user)
            if form.is_valid():
                response = self._request_export(request, form)
                if response is not None:
                    return response
        else:
            form = ExportRequestForm(user=request.user, initial=self._request_initial(request))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Request an export",
            "form": form,
            "selected_type": form["export_type"].value() or DEFAULT_TYPE,
        }
        return TemplateResponse(request, "admin/exports/export/request.html", context)

    def _request_initial(self, request) -> dict:
        initial = {"export_type": request.GET.get("type") if request.GET.get("type") in EXPORT_TYPES else DEFAULT_TYPE}
        campaigns = permissions.visible_campaigns(request.user)
        campaign_id = request.GET.get("campaign", "")
        if campaign_id.isdigit() and campaigns.filter(pk=int(campaign_id)).exists():
            initial["campaign"] = int(campaign_id)
        elif campaigns.count() == 1:
            initial["campaign"] = campaigns.get().pk
        return initial

    def _request_export(self, request, form: ExportRequestForm):
        """Create (or find) the job; None with the service's error on the form when it refuses."""
        campaign = form.cleaned_data["campaign"]
        try:
            export, created = export_request(
                campaign_id=campaign.pk,
                body=form.request_body(),
                user=request.user,
                correlation_id=correlation_id(request),
                via="admin",
            )
        except ApiError as error:
            form.add_error(None, f"{error.message} {error.payload}".strip())
            return None
        label = display.type_label(export.export_type)
        if created:
            template = "{} export of {} requested: job {}. It runs in the background; this list updates by itself."
        else:
            template = "An identical {} export of {} is already running: job {}. No new job was created."
        text = format_html(template, label, campaign.name, export_link(export))
        self.message_user(request, text, messages.SUCCESS if created else messages.WARNING)
        return HttpResponseRedirect(f"{reverse('admin:exports_export_changelist')}?campaign__id__exact={campaign.pk}")

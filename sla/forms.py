"""Tenant-admin forms for SLA policies and business calendars. Every choice is limited to the tenant's own rows,
so another tenant's id is "not a valid choice", never a policy pointing at someone else's channel."""

import re
from datetime import date, time
from typing import Any

import holidays as holidays_lib
from django import forms
from django.core.validators import MinValueValidator
from django.utils.dates import WEEKDAYS as DJANGO_WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inbox.category_labels import category_label
from inbox.selectors import triage_categories
from sac.models import Tenant

from .hours import CalendarError, Hours
from .models import BusinessCalendar, SLAPolicy

# Django's own translated names ("Segunda-feira"); the settings page shows their first three letters.
WEEKDAYS = tuple(DJANGO_WEEKDAYS[day] for day in range(7))
COUNTRIES = [("", gettext_lazy("none")), ("BR", gettext_lazy("Brazil")), ("PT", gettext_lazy("Portugal"))] + sorted(
    (code, code) for code in holidays_lib.list_supported_countries() if code not in ("BR", "PT"))
_WINDOW = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")


class SLAPolicyForm(forms.ModelForm):
    class Meta:
        model = SLAPolicy
        fields = ["name", "min_priority", "channel", "category", "first_response_minutes", "next_response_minutes",
                  "resolution_minutes", "calendar", "warn_percent"]
        # Here, not on the model: labels and help texts there would need a migration for each wording change.
        labels = {"name": gettext_lazy("Name"), "min_priority": gettext_lazy("Priority at least"),
                  "channel": gettext_lazy("Channel"),
                  "first_response_minutes": gettext_lazy("First response (minutes)"),
                  "next_response_minutes": gettext_lazy("Next response (minutes)"),
                  "resolution_minutes": gettext_lazy("Resolution (minutes)"),
                  "calendar": gettext_lazy("Business hours"),
                  "warn_percent": gettext_lazy("Near-breach at (% of a target)")}
        help_texts = {"min_priority": gettext_lazy("0–100; empty = any priority"),
                      "next_response_minutes": gettext_lazy(
                          "The oldest unanswered customer message; empty = not tracked"),
                      "calendar": gettext_lazy(
                          "Empty = calendar hours (24/7); otherwise the targets count business minutes"),
                      "warn_percent": gettext_lazy("Near-breach at this share of a target")}

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["channel"].queryset = tenant.channels.order_by("name")
        self.fields["channel"].empty_label = _("any channel")
        self.fields["calendar"].queryset = BusinessCalendar.objects.filter(tenant=tenant).order_by("name")
        self.fields["calendar"].empty_label = _("calendar hours (24/7)")
        self.fields["category"] = forms.ChoiceField(
            choices=[("", _("any category"))] + [(c, category_label(c)) for c in triage_categories(tenant)],
            required=False, label=_("Category"))
        for name in ("first_response_minutes", "next_response_minutes", "resolution_minutes"):
            self.fields[name].validators.append(MinValueValidator(1))
            self.fields[name].widget.attrs["min"] = 1
        if self.instance.pk and self.instance.is_default:
            # The default policy catches every case no other policy matches: it has no conditions.
            for name in ("min_priority", "channel", "category"):
                del self.fields[name]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if SLAPolicy.objects.filter(tenant=self.tenant, name=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("Another policy already has this name."))
        return name

    def clean_min_priority(self) -> int | None:
        value = self.cleaned_data.get("min_priority")
        if value is not None and not 0 <= value <= 100:
            raise forms.ValidationError(_("Between 0 and 100."))
        return value

    def clean_warn_percent(self) -> int:
        value = self.cleaned_data["warn_percent"]
        if not 1 <= value <= 99:
            raise forms.ValidationError(_("Between 1 and 99."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in ("first_response_minutes", "resolution_minutes", "next_response_minutes"):
            value = data.get(name)
            if value is not None and value > 60 * 24 * 365:
                self.add_error(name, _("At most a year."))
        return data


class BusinessCalendarForm(forms.Form):
    """Windows are typed per weekday as `08:00-12:00, 14:00-18:00`; an end not after its start runs past
    midnight (`22:00-06:00`)."""

    name = forms.CharField(max_length=80, label=gettext_lazy("Name"))
    country = forms.ChoiceField(choices=COUNTRIES, required=False, label=gettext_lazy("Country"),
                                help_text=gettext_lazy("National holidays"))
    subdivision = forms.CharField(max_length=10, required=False, label=gettext_lazy("State / region"),
                                  help_text=gettext_lazy("Regional holidays too, e.g. SP for São Paulo"))
    extra_holidays = forms.CharField(required=False, label=gettext_lazy("Own days off"),
                                     widget=forms.Textarea(attrs={"rows": 3}),
                                     help_text=gettext_lazy("One date per line, e.g. 2026-12-24"))

    def __init__(self, *args: Any, tenant: Tenant, instance: BusinessCalendar | None = None, **kwargs: Any) -> None:
        if instance is not None and "initial" not in kwargs:
            initial = {"name": instance.name, "country": instance.country, "subdivision": instance.subdivision,
                       "extra_holidays": "\n".join(instance.extra_holidays)}
            for day in range(7):
                initial[f"day{day}"] = ", ".join(f"{a}-{b}" for a, b in instance.windows.get(str(day), []))
            kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        self.tenant, self.instance = tenant, instance
        for day, label in enumerate(WEEKDAYS):
            self.fields[f"day{day}"] = forms.CharField(
                required=False, label=label, max_length=200,
                widget=forms.TextInput(attrs={"placeholder": _("closed") if day >= 5 else "08:00-12:00, 14:00-18:00"}))

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        others = BusinessCalendar.objects.filter(tenant=self.tenant, name=name)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(_("Another calendar already has this name."))
        return name

    def clean_subdivision(self) -> str:
        return self.cleaned_data["subdivision"].strip().upper()

    def clean_extra_holidays(self) -> list[str]:
        days = []
        for n, line in enumerate(self.cleaned_data["extra_holidays"].splitlines(), start=1):
            if line.strip():
                try:
                    days.append(date.fromisoformat(line.strip()).isoformat())
                except ValueError:
                    raise forms.ValidationError(_("Line %(n)s: %(text)s is not a date like 2026-12-24.")
                                                % {"n": n, "text": repr(line.strip())}) from None
        return sorted(set(days))

    def _windows(self, day: int) -> list[list[str]]:
        pairs = []
        for part in filter(None, (p.strip() for p in self.cleaned_data.get(f"day{day}", "").split(","))):
            match = _WINDOW.match(part)
            try:
                if match is None:
                    raise ValueError
                a, b = (time.fromisoformat(t.zfill(5)) for t in match.groups())
            except ValueError:
                raise forms.ValidationError(_("%(part)s is not a window like 08:00-12:00.")
                                            % {"part": repr(part)}) from None
            if a == b:
                raise forms.ValidationError(_("%(part)s is empty: start and end are the same time.")
                                            % {"part": repr(part)})
            pairs.append([a.strftime("%H:%M"), b.strftime("%H:%M")])
        return sorted(pairs)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        windows = {}
        for day in range(7):
            try:
                pairs = self._windows(day)
            except forms.ValidationError as exc:
                self.add_error(f"day{day}", exc)
                continue
            if pairs:
                windows[str(day)] = pairs
        if self.errors:
            return data
        if not windows:
            raise forms.ValidationError(_("Give at least one working window, or use calendar hours (no calendar)."))
        if data.get("subdivision") and not data.get("country"):
            self.add_error("subdivision", _("Pick the country first."))
            return data
        try:
            Hours.from_config(tz=self.tenant.time_zone, windows=windows, country=data.get("country", ""),
                              subdivision=data.get("subdivision", ""), extra_holidays=data.get("extra_holidays", []))
        except CalendarError as exc:
            if data.get("subdivision"):
                self.add_error("subdivision", _("Not a state or region of %(country)s: %(reason)s")
                               % {"country": data.get("country") or _("that country"), "reason": exc})
            else:
                raise forms.ValidationError(_("This calendar cannot be used: %(reason)s") % {"reason": exc}) from None
        data["windows"] = windows
        return data

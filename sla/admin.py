from django import forms
from django.contrib import admin

from .hours import CalendarError, Hours
from .models import BusinessCalendar, CasePromise, SLAAlert, SLAEvent, SLAPolicy


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "position", "min_priority", "channel", "category", "first_response_minutes",
                    "next_response_minutes", "resolution_minutes", "calendar", "is_default")
    list_filter = ("tenant",)
    ordering = ("tenant", "position")


class BusinessCalendarForm(forms.ModelForm):
    class Meta:
        model = BusinessCalendar
        fields = ["tenant", "name", "windows", "country", "subdivision", "extra_holidays"]

    def clean(self) -> dict:
        data = super().clean()
        try:
            Hours.from_config(tz="UTC", windows=data.get("windows") or {}, country=data.get("country", ""),
                              subdivision=data.get("subdivision", ""), extra_holidays=data.get("extra_holidays") or [])
        except CalendarError as exc:
            raise forms.ValidationError(f"Invalid calendar: {exc}") from exc
        return data


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    form = BusinessCalendarForm
    list_display = ("name", "tenant", "country", "subdivision")
    list_filter = ("tenant",)


@admin.register(SLAEvent)
class SLAEventAdmin(admin.ModelAdmin):
    list_display = ("case", "target", "met", "due_at", "at", "tenant")
    list_filter = ("tenant", "target", "met")
    raw_id_fields = ("case",)


@admin.register(SLAAlert)
class SLAAlertAdmin(admin.ModelAdmin):
    list_display = ("case", "target", "level", "due_at", "created_at", "tenant")
    list_filter = ("tenant", "level")
    raw_id_fields = ("case",)


@admin.register(CasePromise)
class CasePromiseAdmin(admin.ModelAdmin):
    list_display = ("case", "min_minutes", "max_minutes", "due_at", "is_active", "tenant")
    raw_id_fields = ("case",)

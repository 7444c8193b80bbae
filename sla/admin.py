from django.contrib import admin

from .models import SLAPolicy


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "first_response_minutes", "resolution_minutes", "is_default")
    list_filter = ("tenant",)

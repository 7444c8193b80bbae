from django.contrib import admin

from .models import DeflectionDay, FollowUp, SurveyConfig, SurveyInvitation, SurveyResponse


@admin.register(SurveyConfig)
class SurveyConfigAdmin(admin.ModelAdmin):
    list_display = ("tenant", "enabled", "ask_csat", "ask_nps", "delay_minutes", "quiet_days", "currency")


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(admin.ModelAdmin):
    list_display = ("case", "tenant", "state", "due_at", "sent_at", "answered_at", "attempts")
    list_filter = ("tenant", "state")
    # The token digest is not secret, but nothing an operator needs to see or edit.
    exclude = ("token_digest",)
    raw_id_fields = ("case", "customer", "channel")


@admin.register(SurveyResponse)
class SurveyResponseAdmin(admin.ModelAdmin):
    list_display = ("case", "tenant", "csat", "nps", "created_at")
    list_filter = ("tenant",)
    raw_id_fields = ("case", "invitation")


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ("case", "tenant", "status", "team", "created_at", "closed_at")
    list_filter = ("tenant", "status")
    raw_id_fields = ("case", "response")


@admin.register(DeflectionDay)
class DeflectionDayAdmin(admin.ModelAdmin):
    list_display = ("day", "tenant", "calls", "site_visits")
    list_filter = ("tenant",)

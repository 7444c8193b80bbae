from django.contrib import admin

from .models import CannedReply, Case, MentionTriage, Note, Reply, Tag


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ("protocol", "tenant", "status", "priority", "assignee", "first_response_due", "created_at")
    list_filter = ("tenant", "status")
    search_fields = ("protocol", "subject")
    raw_id_fields = ("customer", "assignee")
    # State changes go through inbox.services (audit row, events, conditional updates), not this form.
    readonly_fields = ("tenant", "protocol", "status", "assignee", "team", "first_response_due", "resolution_due",
                       "first_response_at", "resolved_at", "first_message_at", "last_customer_message_at")


@admin.register(Reply)
class ReplyAdmin(admin.ModelAdmin):
    list_display = ("pk", "tenant", "case", "visibility", "state", "external_id", "attempts", "created_at")
    list_filter = ("tenant", "state", "visibility")
    readonly_fields = ("tenant", "case", "state", "idempotency_key", "external_id", "attempts", "sent_at",
                       "sending_started_at", "error")


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ("shortcut", "title", "tenant", "language", "usage_count")
    list_filter = ("tenant",)


admin.site.register(Tag)
admin.site.register(Note)
admin.site.register(MentionTriage)

from django.contrib import admin

from .models import ChannelAccount, DeadLetter, Mention, PollRun, SocialProfile


@admin.register(ChannelAccount)
class ChannelAccountAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "platform", "status", "next_poll_at", "last_polled_at")
    list_filter = ("tenant", "platform", "status")
    # Credentials are never shown back, not even encrypted.
    exclude = ("credentials",)


@admin.register(SocialProfile)
class SocialProfileAdmin(admin.ModelAdmin):
    list_display = ("handle", "name", "tenant", "platform", "followers_count", "verified")
    list_filter = ("tenant", "platform")
    search_fields = ("handle", "name")


@admin.register(Mention)
class MentionAdmin(admin.ModelAdmin):
    list_display = ("external_id", "tenant", "channel", "author", "posted_at", "triaged_at")
    list_filter = ("tenant", "channel")
    search_fields = ("text", "external_id")
    raw_id_fields = ("author", "ingest_run")


@admin.register(PollRun)
class PollRunAdmin(admin.ModelAdmin):
    list_display = ("started_at", "tenant", "channel", "outcome", "fetched", "stored", "dead_lettered")
    list_filter = ("tenant", "outcome")


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = ("created_at", "tenant", "channel", "source", "reason", "resolved_at")
    list_filter = ("tenant", "source")

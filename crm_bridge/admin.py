from django.contrib import admin

from .models import CrmConfig, CrmCustomer, CrmPush, IdentityLink


@admin.register(CrmConfig)
class CrmConfigAdmin(admin.ModelAdmin):
    list_display = ("tenant", "kind", "base_url", "timeout_seconds", "cache_ttl_seconds", "push_enabled")
    # The auth header is a credential: set it on the tenant's CRM settings page, never shown back.
    exclude = ("auth_header",)


@admin.register(CrmCustomer)
class CrmCustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "email", "external_ref")
    list_filter = ("tenant",)
    search_fields = ("name", "email", "external_ref")


@admin.register(IdentityLink)
class IdentityLinkAdmin(admin.ModelAdmin):
    list_display = ("profile", "tenant", "crm_ref", "display_name", "how", "created_at")
    list_filter = ("tenant",)
    raw_id_fields = ("profile",)


@admin.register(CrmPush)
class CrmPushAdmin(admin.ModelAdmin):
    list_display = ("case", "tenant", "state_key", "state", "attempts", "sent_at")
    list_filter = ("tenant", "state")
    raw_id_fields = ("case",)

from django.db.models import QuerySet
from rest_framework import mixins, serializers

from sac.api import TenantScopedViewSet
from sac.models import Tenant

from .masking import masked_subject
from .models import Case


class CaseSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.name", read_only=True)
    customer_handle = serializers.CharField(source="customer.handle", read_only=True, default="")
    assignee = serializers.CharField(source="assignee.username", read_only=True, default=None)
    # Masked as the queue shows it: an API client is one more public view of the customer's words.
    subject = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = ["id", "protocol", "status", "priority", "channel", "customer_handle", "assignee", "subject",
                  "language", "category", "personal_data", "triage", "first_message_at", "first_response_due",
                  "resolution_due", "first_response_at", "resolved_at", "created_at", "updated_at"]
        read_only_fields = fields

    def get_subject(self, case: Case) -> str:
        return masked_subject(case)


class CaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    serializer_class = CaseSerializer
    ordering = "-created_at"

    def tenant_queryset(self, tenant: Tenant) -> QuerySet[Case]:
        return Case.objects.filter(tenant=tenant).select_related("channel", "customer", "assignee")

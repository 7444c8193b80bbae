from django.db.models import QuerySet
from rest_framework import mixins, serializers

from sac.api import TenantScopedViewSet
from sac.models import Tenant

from .models import Mention


class MentionSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.name", read_only=True)
    author_handle = serializers.CharField(source="author.handle", read_only=True, default="")

    class Meta:
        model = Mention
        fields = ["id", "external_id", "channel", "kind", "direction", "author_handle", "text", "language",
                  "conversation_id", "in_reply_to_external_id", "posted_at", "received_at", "triaged_at"]
        read_only_fields = fields


class MentionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    serializer_class = MentionSerializer
    ordering = "-received_at"

    def tenant_queryset(self, tenant: Tenant) -> QuerySet[Mention]:
        return Mention.objects.filter(tenant=tenant).select_related("channel", "author")

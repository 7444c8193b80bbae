from datetime import date
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from sac.api import TenantScopedViewSet, request_membership
from sac.models import Role, Tenant
from sac.parsing import parse_int

from . import selectors, services
from .models import DeflectionDay, SurveyResponse


class DeflectionDaySerializer(serializers.ModelSerializer):
    class Meta:
        model = DeflectionDay
        fields = ["day", "calls", "site_visits"]


class DeflectionDayViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """The contact centre's daily calls and site visits. POST a list (or one object) to upsert days."""

    serializer_class = DeflectionDaySerializer
    ordering = "-day"

    def tenant_queryset(self, tenant: Tenant) -> QuerySet[DeflectionDay]:
        return DeflectionDay.objects.filter(tenant=tenant)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        membership = request_membership(request)
        if not membership.has_role(Role.ADMIN):
            raise PermissionDenied("Only tenant admins import contact-centre figures.")
        many = isinstance(request.data, list)
        serializer = DeflectionDaySerializer(data=request.data, many=many)
        if not serializer.is_valid():
            raise ValidationError(serializer.errors)
        items = serializer.validated_data if many else [serializer.validated_data]
        rows = [services.DeflectionRow(day=i["day"], calls=i["calls"], site_visits=i["site_visits"]) for i in items]
        result = services.deflection_import(tenant=membership.tenant, membership=membership, rows=rows)
        return Response({"saved": result.saved}, status=status.HTTP_201_CREATED)


class SurveyResponseSerializer(serializers.ModelSerializer):
    protocol = serializers.CharField(source="case.protocol", read_only=True)

    class Meta:
        model = SurveyResponse
        fields = ["id", "case", "protocol", "csat", "nps", "comment", "created_at"]
        read_only_fields = fields


class SurveyMetricsSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    invitations_sent = serializers.IntegerField()
    answers = serializers.IntegerField()
    csat_pct = serializers.FloatField(allow_null=True, help_text="answers of 4–5 ÷ CSAT answers, in %")
    nps = serializers.FloatField(allow_null=True, help_text="% promoters (9–10) − % detractors (0–6)")
    response_rate = serializers.FloatField(allow_null=True, help_text="answers ÷ invitations sent, in %")
    promoters = serializers.IntegerField()
    detractors = serializers.IntegerField()
    as_of = serializers.DateField()


class SurveyResponseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Survey answers; `GET …/metrics/?days=30` gives CSAT %, NPS and response rate for the period."""

    serializer_class = SurveyResponseSerializer
    required_role = Role.SUPERVISOR
    ordering = "-created_at"

    def tenant_queryset(self, tenant: Tenant) -> QuerySet[SurveyResponse]:
        return SurveyResponse.objects.filter(tenant=tenant).select_related("case")

    @extend_schema(responses=SurveyMetricsSerializer,
                   parameters=[OpenApiParameter("days", int, description="the period, 1–366 days (default 30)"),
                               OpenApiParameter("channel", int), OpenApiParameter("team", int),
                               OpenApiParameter("agent", int, description="the assignee's user id"),
                               OpenApiParameter("category", str)])
    @action(detail=False, methods=["get"])
    def metrics(self, request: Request) -> Response:
        raw = request.query_params.get("days", "30")
        days = parse_int(raw) or 30
        days = days if days <= 366 else 30
        return Response(SurveyMetricsSerializer(metrics_payload(self.tenant, days, request.query_params)).data)


def metrics_payload(tenant: Tenant, days: int, query: Any = None) -> dict[str, Any]:
    m = selectors.survey_metrics(tenant, selectors.filter_from_query(query or {}, days))
    return {"days": days, "invitations_sent": m.invitations_sent, "answers": m.answers, "csat_pct": m.csat_pct,
            "nps": m.nps, "response_rate": m.response_rate, "promoters": m.promoters, "detractors": m.detractors,
            "as_of": date.today().isoformat()}

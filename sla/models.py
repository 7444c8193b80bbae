from django.db import models
from django.db.models import Q

from sac.models import Tenant


class SLAPolicy(models.Model):
    """Targets a case is held to. The foundation uses one default policy per tenant in calendar minutes;
    the SLA issue (#6) adds matching by priority/channel/category and business hours."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="sla_policies")
    name = models.CharField(max_length=80)
    first_response_minutes = models.PositiveIntegerField(default=60)
    resolution_minutes = models.PositiveIntegerField(default=24 * 60)
    is_default = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="slapolicy_unique_name"),
            models.UniqueConstraint(fields=["tenant"], condition=Q(is_default=True), name="slapolicy_one_default"),
        ]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return f"{self.name} ({self.first_response_minutes} min / {self.resolution_minutes} min)"

"""Triage: agents' corrections, per-tenant models, routing rules, patterns, categories."""


import logging
import re

from django.db import transaction

from sac.models import Membership, Tenant
from sac.services import audit_record

from .. import events
from ..models import (
    Case,
    PersonalDataPattern,
    RoutingRule,
    TriageCategory,
    TriageCorrection,
    TriageModelVersion,
)
from ..selectors import case_first_mention, triage_categories, triage_config_for
from ..triage import TriageConfig
from .common import CaseActionError

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- triage: corrections, learning, routing rules (#4)

# A tenant model is retrained once this many corrections arrived since the last version.
RETRAIN_EVERY = 20
# Fewer held-back corrections than this and a comparison means nothing: keep the current model.
MIN_HELD_BACK = 5


def triage_correct(*, tenant: Tenant, membership: Membership, case: Case, category: str, requires_response: bool,
                   priority: int | None = None) -> TriageCorrection:
    """An agent re-labels a case: the case changes now, and the correction becomes a training example."""
    if category not in triage_categories(tenant):
        raise CaseActionError(f"Unknown category {category!r}.")
    if priority is not None and not 0 <= priority <= 100:
        raise CaseActionError("Priority goes from 0 to 100.")
    mention = case_first_mention(tenant, case)
    if mention is None:
        raise CaseActionError("This case has no customer post to learn from.")
    with transaction.atomic():
        changes: dict[str, object] = {"category": category}
        if priority is not None:
            changes["priority"] = priority
        Case.objects.filter(tenant=tenant, pk=case.pk).update(**changes)
        if case.category != category:  # sla keeps case counts per category in the same transaction
            events.case_recategorized.send(sender=Case, case=case, actor=membership.user,
                                           old_category=case.category, new_category=category)
        correction, _ = TriageCorrection.objects.update_or_create(
            tenant=tenant, mention=mention,
            defaults={"case": case, "text": mention.text, "category": category,
                      "requires_response": requires_response, "priority": priority,
                      "original": {k: case.triage.get(k) for k in ("category", "requires_response", "priority")},
                      "corrected_by": membership.user},
        )
        audit_record(tenant=tenant, actor=membership.user, verb="triage.corrected", obj=case,
                     data={"category": category, "requires_response": requires_response, "priority": priority,
                           "was": correction.original})
        triage_retrain_when_due(tenant=tenant)
    case.refresh_from_db()
    return correction


def triage_retrain_when_due(*, tenant: Tenant) -> None:
    """Queue a retraining once RETRAIN_EVERY corrections arrived since the last version. Call inside the
    transaction that stored a correction (an agent's re-labelling, or a supervisor recovering ignored noise)."""
    latest = TriageModelVersion.objects.filter(tenant=tenant).order_by("-version").first()
    since = TriageCorrection.objects.filter(tenant=tenant)
    if latest is not None:
        since = since.filter(created_at__gt=latest.created_at)
    if since.count() >= RETRAIN_EVERY:
        from ..tasks import triage_model_retrain

        transaction.on_commit(lambda: triage_model_retrain.delay(tenant.pk))


def triage_model_retrain(*, tenant_id: int) -> TriageModelVersion | None:
    """Train a candidate on the tenant's corrections, judge it against the model in use on the held-back
    slice, and promote it only when it scores higher. Every attempt is kept as a version with its metrics."""
    from ..triage.train import Example, fit, held_back, score  # scikit-learn loads only where training runs

    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        log.info("triage_model_retrain: tenant %s is gone", tenant_id)
        return None
    rows = list(TriageCorrection.objects.filter(tenant=tenant).values_list("text", "category", "requires_response"))
    examples = [Example(text, category, rr) for text, category, rr in rows]
    train = [e for e in examples if not held_back(e.text)]
    test = [e for e in examples if held_back(e.text)]
    if len(train) < 10 or len(test) < MIN_HELD_BACK:
        log.info("triage_model_retrain: tenant %s has too few corrections (%d)", tenant_id, len(examples))
        return None
    current = triage_config_for(tenant)
    with transaction.atomic():
        # One retraining per tenant at a time: the version number and the promotion are decided under this lock.
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
        last = TriageModelVersion.objects.filter(tenant=tenant).order_by("-version").first()
        number = (last.version if last else 0) + 1
        model = fit(train, version=f"v{number}")
        incumbent = score(test, current)
        candidate = score(test, TriageConfig(custom_patterns=current.custom_patterns, categories=current.categories,
                                             rules=current.rules, model=model))
        better = candidate["score"] > incumbent["score"]
        if better:
            TriageModelVersion.objects.filter(tenant=tenant, status=TriageModelVersion.Status.PROMOTED).update(
                status=TriageModelVersion.Status.RETIRED)
        version = TriageModelVersion.objects.create(
            tenant=tenant, version=number, trained_on=len(train), held_back=len(test),
            status=TriageModelVersion.Status.PROMOTED if better else TriageModelVersion.Status.REJECTED,
            metrics={"candidate": candidate, "incumbent": incumbent,
                     "incumbent_version": current.model.version if current.model else "baseline"},
            weights=model.to_json(),
        )
        audit_record(tenant=tenant, actor=None, verb="triage.model_trained", obj=version,
                     data={"version": number, "promoted": better, "candidate": candidate, "incumbent": incumbent})
    return version


def routing_rule_save(*, tenant: Tenant, membership: Membership, rule: RoutingRule | None,
                      fields: dict[str, object]) -> RoutingRule:
    """Create or update a rule; `fields` come from RoutingRuleForm (its choices are the tenant's own)."""
    with transaction.atomic():
        if rule is None:
            last = RoutingRule.objects.filter(tenant=tenant).order_by("-position").first()
            rule = RoutingRule(tenant=tenant, position=(last.position + 1) if last else 0)
        for name, value in fields.items():
            setattr(rule, name, value)
        if rule.team_id is not None and rule.team.tenant_id != tenant.pk:
            raise CaseActionError("No such team.")
        if rule.channel_id is not None and rule.channel.tenant_id != tenant.pk:
            raise CaseActionError("No such channel.")
        rule.save()
        audit_record(tenant=tenant, actor=membership.user, verb="routing_rule.saved", obj=rule,
                     data={"name": rule.name})
    return rule


def routing_rule_delete(*, tenant: Tenant, membership: Membership, rule: RoutingRule) -> None:
    with transaction.atomic():
        audit_record(tenant=tenant, actor=membership.user, verb="routing_rule.deleted", obj=rule,
                     data={"name": rule.name})
        RoutingRule.objects.filter(tenant=tenant, pk=rule.pk).delete()


def routing_rule_move(*, tenant: Tenant, membership: Membership, rule: RoutingRule, up: bool) -> None:
    """Swap a rule with its neighbour; positions are renumbered so ties never make the order ambiguous."""
    with transaction.atomic():
        rules = list(RoutingRule.objects.select_for_update().filter(tenant=tenant).order_by("position", "pk"))
        index = next(i for i, r in enumerate(rules) if r.pk == rule.pk)
        other = index - 1 if up else index + 1
        if 0 <= other < len(rules):
            rules[index], rules[other] = rules[other], rules[index]
        for position, r in enumerate(rules):
            if r.position != position:
                RoutingRule.objects.filter(tenant=tenant, pk=r.pk).update(position=position)
        audit_record(tenant=tenant, actor=membership.user, verb="routing_rule.moved", obj=rule,
                     data={"up": up})


def personal_data_pattern_add(*, tenant: Tenant, membership: Membership, name: str, regex: str) -> PersonalDataPattern:
    try:
        re.compile(regex)
    except re.error as exc:
        raise CaseActionError(f"Not a valid regular expression: {exc}") from None
    if not regex or re.compile(regex).search(""):
        raise CaseActionError("The pattern must not match empty text.")
    with transaction.atomic():
        if PersonalDataPattern.objects.filter(tenant=tenant, name=name).exists():
            raise CaseActionError(f"There is already a pattern named {name!r}.")
        pattern = PersonalDataPattern.objects.create(tenant=tenant, name=name, regex=regex)
        audit_record(tenant=tenant, actor=membership.user, verb="personal_data_pattern.added", obj=pattern,
                     data={"name": name, "regex": regex})
    return pattern


def personal_data_pattern_delete(*, tenant: Tenant, membership: Membership, pattern: PersonalDataPattern) -> None:
    with transaction.atomic():
        audit_record(tenant=tenant, actor=membership.user, verb="personal_data_pattern.deleted", obj=pattern,
                     data={"name": pattern.name})
        PersonalDataPattern.objects.filter(tenant=tenant, pk=pattern.pk).delete()


def triage_category_add(*, tenant: Tenant, membership: Membership, name: str) -> TriageCategory:
    with transaction.atomic():
        category, created = TriageCategory.objects.get_or_create(tenant=tenant, name=name)
        if created:
            audit_record(tenant=tenant, actor=membership.user, verb="triage_category.added", obj=category,
                         data={"name": name})
    return category


__all__ = ["MIN_HELD_BACK", "RETRAIN_EVERY", "personal_data_pattern_add", "personal_data_pattern_delete",
           "routing_rule_delete", "routing_rule_move", "routing_rule_save", "triage_category_add", "triage_correct",
           "triage_model_retrain"]

"""One object of every kind the API addresses, made through the services in
one tenant: the fuzzer's data (so ids in paths sometimes resolve) and the
cross-tenant matrix's targets (so another tenant has something to miss)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from health.models import EventName, HealthProfile
from health.services import (
    csm_sentiment_set,
    feature_save,
    health_profile_save,
    nps_response_record,
    usage_batch_record,
)
from lifecycle import services as lifecycle
from lifecycle.models import StageAchievement
from tests import factories
from tests.conftest import make_user
from tests.work.rules_data import evaluate, rule
from work import services as work
from work.models import ActionRun, Task


def seed(tenant, tag: str = "w") -> dict:
    """Objects of `tenant`, by the name of the path parameter that reaches
    them: {"account": id, "contact": id, ..., "achievement": key}."""
    csm = make_user(tenant, Role.CSM)
    with tenant_context(tenant):
        account = factories.account(owner=csm, name=f"Initech {tag}", external_id=f"crm-{tag}")
        other = factories.account(owner=csm, name=f"Umbrella {tag}", external_id=f"crm2-{tag}")
        contact = factories.contact(account, external_id=f"c-{tag}")
        contract = factories.contract(account, external_id=f"k-{tag}")
        segment = lifecycle.segment_save(name=f"Mid market {tag}", filters={"tier": ["mid_market"]})
        escalation = lifecycle.escalation_open(account=account, reason=f"{tag} down", actor=None)
        lifecycle.note_add(account=account, body=f"private {tag}", actor=None)
        achievement = StageAchievement.objects.filter(stage=account.stage).first()
        feature = feature_save(name=f"Reports {tag}", counts_for_adoption=True)
        usage_batch_record(
            events=[
                {"event": "report_exported", "account_id": account.external_id},
                {"event": "report_exported", "account_id": other.external_id},
            ]
        )
        event_name = EventName.objects.get(name="report_exported")
        nps_response_record(account=account, score=9, respondent=f"r-{tag}@x.test")
        csm_sentiment_set(account=account, value="green", comment="fine", actor=None)
        profile = health_profile_save(
            name=f"Mid market {tag}",
            segment=segment,
            measures={"nps": {"weight": 10, "bad": -30, "good": 50}},
        )
        playbook = work.playbook_save(name=f"Kickoff {tag}")
        step = work.playbook_step_save(playbook=playbook, title="Call")
        run, _ = work.playbook_start(
            playbook=playbook, account=account, occurrence_key=f"k-{tag}", actor=None
        )
        task = Task.objects.get(run=run)
        tomorrow = timezone.localdate() + dt.timedelta(days=1)
        work.task_create(account=other, title="Follow up", due_date=tomorrow, actor=None)
        work.task_time_log(task=task, minutes=15, actor=None)
        r = rule(
            "escalation_opened",
            actions=[{"kind": "notify_email", "config": {"to": "owner"}}],
            name=f"Escalation alert {tag}",
        )
        evaluate(trigger="escalation_opened", account_id=account.pk, occurrence_key=tag, payload={})
        action_run = ActionRun.objects.get(firing__rule=r)
        default_profile = HealthProfile.objects.get(is_default=True)
        skill = work.skill_save(label=f"Skill {tag}")
        group = work.csm_group_save(name=f"Pod {tag}", member_ids=[csm.pk])
    return {
        "account": account.pk,
        "account_external_id": account.external_id,
        "other_account": other.pk,
        "achievement": achievement.key,
        "contact": contact.pk,
        "contact_external_id": contact.external_id,
        "contract": contract.pk,
        "contract_external_id": contract.external_id,
        "segment": segment.pk,
        "escalation": escalation.pk,
        "feature": feature.pk,
        "event_name": event_name.pk,
        "profile": profile.pk,
        "default_profile": default_profile.pk,
        "playbook": playbook.pk,
        "step": step.pk,
        "task": task.pk,
        "rule": r.pk,
        "action_run": action_run.pk,
        "csm": csm.pk,
        "csm_email": csm.email,
        "skill": skill.key,
        "group": group.pk,
    }

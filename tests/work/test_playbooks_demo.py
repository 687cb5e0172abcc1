"""`seed_demo_work`: work management for the demo tenant, once."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Tenant
from lifecycle.models import TimelineEntry
from work.models import (
    OPEN_STATUSES,
    CsmGroup,
    CsmProfile,
    OutOfOffice,
    Playbook,
    PlaybookRun,
    Rule,
    Task,
    TaskStatus,
    TimeEntry,
)

pytestmark = pytest.mark.django_db

CSMS = ["csm@northwind.test", "csm1@northwind.test", "csm2@northwind.test", "csm3@northwind.test"]


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def counts(tenant) -> dict:
    with tenant_context(tenant):
        models = [Playbook, PlaybookRun, Task, TimeEntry, CsmProfile, OutOfOffice, CsmGroup, Rule]
        out = {m.__name__: m.objects.count() for m in models}
        out["timeline"] = TimelineEntry.objects.count()
        out["statuses"] = dict(Task.objects.values_list("status").annotate(n=Count("id")))
    return out


def test_seed_demo_work_fills_every_queue_and_is_idempotent(db):
    assert "run seed_demo first" in run("seed_demo_work")
    run("seed_demo")
    assert "Started" in run("seed_demo_work")
    tenant = Tenant.objects.get(slug="northwind")
    first = counts(tenant)
    assert "already seeded" in run("seed_demo_work")
    assert counts(tenant) == first
    today = timezone.localdate()
    sunday = today + dt.timedelta(days=6 - today.weekday())
    with tenant_context(tenant):
        assert first["Playbook"] == 7
        assert set(Rule.objects.values_list("trigger", flat=True)) == {
            "health_band_changed",
            "renewal_within",
        }
        profile = CsmProfile.objects.get(user__email="csm2@northwind.test")
        assert sorted(profile.skills) == ["executive", "renewals"]
        assert OutOfOffice.objects.filter(profile__user__email="csm3@northwind.test").count() == 1
        for email in CSMS:
            mine = Task.objects.filter(assignee__email=email)
            open_ = mine.filter(status__in=OPEN_STATUSES)
            assert 10 <= open_.count() <= 60, email
            assert open_.filter(due_date__lt=today).exists(), email  # overdue
            assert open_.filter(due_date__gt=sunday).exists(), email  # later
            done = mine.filter(status=TaskStatus.DONE)
            assert done.exists(), email
            logged = TimeEntry.objects.filter(task__in=done)
            assert logged.exists()
            assert all(
                today - dt.timedelta(days=28) <= day <= today
                for day in logged.values_list("logged_on", flat=True)
            )
        assert Task.objects.filter(
            status__in=OPEN_STATUSES, due_date__gte=today, due_date__lte=sunday
        ).exists()

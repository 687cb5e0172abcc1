"""Daily rollups stay equal to a recount from raw events."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from csplatform.tenancy.context import tenant_context
from health.models import UsageDailyAccount, UsageDailyEvent, UsageEvent
from health.services import usage_batch_record, usage_rollups_fold
from tests import factories
from tests.conftest import make_tenant

pytestmark = pytest.mark.django_db


def recount():
    """(per account x event x day, per account x day) straight from raw events."""
    raw = UsageEvent.objects.filter(account__isnull=False).annotate(d=TruncDate("occurred_at"))
    identified = Q(user_id__gt="")
    per_event = {
        (r["account_id"], r["event"], r["d"]): (r["n"], r["u"])
        for r in raw.values("account_id", "event", "d").annotate(
            n=Count("id"), u=Count("user_id", filter=identified, distinct=True)
        )
    }
    per_account = {
        (r["account_id"], r["d"]): (r["n"], r["u"])
        for r in raw.values("account_id", "d").annotate(
            n=Count("id"), u=Count("user_id", filter=identified, distinct=True)
        )
    }
    return per_event, per_account


def rollups():
    per_event = {
        (r.account_id, r.event, r.day): (r.events, r.users) for r in UsageDailyEvent.objects.all()
    }
    per_account = {
        (r.account_id, r.day): (r.events, r.active_users) for r in UsageDailyAccount.objects.all()
    }
    return per_event, per_account


# Noon yesterday: day offsets and minute spreads never cross midnight.
BASE = (timezone.now() - timedelta(days=1)).replace(hour=12, minute=0, second=0)


def batch(prefix, accounts, users, days, events=("login", "export")):
    now = BASE
    return [
        {
            "account_id": a,
            "event": e,
            "user_id": u,
            "timestamp": (now - timedelta(days=d, minutes=i)).isoformat(),
            "message_id": f"{prefix}-{a}-{e}-{u}-{d}-{i}",
        }
        for i, (a, e, u, d) in enumerate(
            (a, e, u, d) for a in accounts for e in events for u in users for d in days
        )
    ]


def test_rollups_match_a_recount_across_batches_and_retries(in_tenant):
    factories.account(external_id="a")
    factories.account(external_id="b")
    first = batch("x", ["a", "b"], ["u1", "u2", ""], [0, 1])
    usage_batch_record(events=first)
    usage_batch_record(events=first)  # a retry adds nothing
    usage_rollups_fold(tenant=in_tenant)
    usage_batch_record(events=batch("y", ["a"], ["u2", "u3"], [0, 5]))  # u2 again, same day
    usage_rollups_fold(tenant=in_tenant)
    usage_rollups_fold(tenant=in_tenant)  # a second fold counts nothing twice
    per_event, per_account = rollups()
    assert (per_event, per_account) == recount()
    today = BASE.date()
    a = UsageEvent.objects.filter(account_external_id="a").first().account_id
    assert per_account[(a, today)][1] == 3  # u1, u2, u3; anonymous events are not users


def test_attached_early_events_are_rolled_up(in_tenant, django_capture_on_commit_callbacks):
    usage_batch_record(events=batch("early", ["late-co"], ["u1", "u2"], [0, 2]))
    assert rollups() == ({}, {})
    with django_capture_on_commit_callbacks(execute=True):
        factories.account(external_id="late-co")
    per_event, per_account = rollups()
    assert len(per_account) == 2
    assert (per_event, per_account) == recount()


@pytest.mark.django_db(transaction=True)  # four threads, four connections: they see commits only
def test_rollups_stay_exact_under_racing_batches():
    tenant = make_tenant()
    with tenant_context(tenant):
        factories.account(external_id="busy")
    barrier = threading.Barrier(4)

    def send(n):
        try:
            barrier.wait(timeout=10)
            with tenant_context(tenant):
                # overlapping users and days, distinct messages per thread
                usage_batch_record(
                    events=batch(f"t{n}", ["busy"], ["u1", "u2", f"only{n}"], [0, 1])
                )
            usage_rollups_fold(tenant=tenant)  # folds race each other too
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    with tenant_context(tenant):
        per_event, per_account = rollups()
        assert (per_event, per_account) == recount()
        assert {v[1] for v in per_account.values()} == {6}  # u1, u2 and four only-n

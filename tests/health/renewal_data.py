"""A contract renewing in `days` for a new account whose current score and
measure points (outcomes, trend, engagement, NPS) are all `score`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from health.models import HealthScore
from lifecycle.models import ContactRole
from tests import factories


def renewing(days: int, score: int, *, arr="10000", champion=False, **account_fields):
    today = timezone.now().date()
    acct = factories.account(**account_fields)
    contract = factories.contract(
        acct,
        arr=Decimal(arr),
        start_date=today - timedelta(days=300),
        renewal_date=today + timedelta(days=days),
    )
    HealthScore.objects.create(
        account=acct,
        score=score,
        band="green" if score >= 70 else "yellow" if score >= 40 else "red",
        breakdown=[
            {"measure": m, "points": score, "missing": False}
            for m in ("outcomes", "trend", "engagement", "nps")
        ],
    )
    if champion:
        factories.contact(acct, role=ContactRole.CHAMPION)
    return contract

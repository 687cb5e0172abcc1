"""Fixture data for the health API tests: accounts judged by the Default
profile (stage adoption), whose scores come from NPS answers, CSM sentiment
and support load (the tenant sends tickets, none for these accounts: full
points), so the numbers are easy to follow.

With the Default profile's weights (NPS 10, support load 10, sentiment 5):
NPS 10 + sentiment green  -> (100*10 + 100*10 + 100*5) / 25 = 100, green
NPS 10 + sentiment yellow -> (100*10 + 100*10 +  50*5) / 25 =  90, green
NPS 10 + sentiment red    -> (100*10 + 100*10 +   0*5) / 25 =  80, green
"""

from __future__ import annotations

from health.models import EventName
from health.services import csm_sentiment_set, health_rescore, nps_response_record
from lifecycle.models import Stage
from tests import factories


def judged_account(*, nps: int | None = 10, sentiment: str | None = "yellow", **fields):
    """An adoption account with an NPS answer and a CSM sentiment (call inside
    tenant_context; re-score afterwards)."""
    fields.setdefault("stage", Stage.ADOPTION)
    EventName.objects.get_or_create(name="ticket_created")  # support load has data
    account = factories.account(**fields)
    if nps is not None:
        nps_response_record(account=account, score=nps, respondent=f"r-{account.pk}@x.test")
    if sentiment is not None:
        csm_sentiment_set(account=account, value=sentiment, comment="seen it", actor=None)
    return account


def rescore() -> None:
    health_rescore(account_ids=None)

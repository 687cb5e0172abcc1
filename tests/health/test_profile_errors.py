"""A profile whose segment's stored filter cannot run (saved before the
grammar was closed, or edited in the database) never stalls its tenant's
scoring: the worker leaves the profile out, scores every account as if it
did not exist, records why on the profile, and clears it once it runs."""

import pytest

from csplatform.tenancy.context import tenant_context
from health.models import HealthProfile, HealthScore, RescoreRequest
from health.services import (
    csm_sentiment_set,
    health_profile_save,
    health_rescore_all,
    health_rescore_request,
)
from health.tasks import rescore_requested
from lifecycle.models import Segment
from lifecycle.services import segment_save
from tests import factories
from tests.health.scoring_data import only_profile

pytestmark = pytest.mark.django_db

SENTIMENT = {"csm_sentiment": {"weight": 1, "bad": 0, "good": 100}}

# Stored filters the closed grammar refuses when a segment runs: out of range,
# not a number, lookup syntax in an attribute key.
BROKEN_NOW = [
    {"arr_min": "NaN"},
    {"renewal_within_days": 99999999999},
    {"arr_min": "1e999999"},
    {"attributes": {"region__regex": "x("}},
]
LOOKUP_SYNTAX = {"attributes": {"region__regex": "x"}}


def _setup(tenant):
    """A strategic and an SMB account, both yellow on sentiment (50). The
    Strategic profile (strict bands) takes the first; Default the other."""
    with tenant_context(tenant):
        only_profile({"csm_sentiment": 1}, name="Default")
        segment = segment_save(name="Strategic", filters={"tier": ["strategic"]})
        profile = health_profile_save(
            name="Strategic",
            segment=segment,
            position=5,
            measures=SENTIMENT,
            red_below=60,
            green_from=90,
            rescore=False,
        )
        accounts = [factories.account(tier="strategic"), factories.account(tier="smb")]
        for account in accounts:
            csm_sentiment_set(account=account, value="yellow", comment="so-so", actor=None)
    return segment, profile, accounts


def _judged(tenant, accounts) -> list[tuple[str, str]]:
    with tenant_context(tenant):
        scores = {s.account_id: s for s in HealthScore.objects.select_related("profile")}
        return [(scores[a.pk].profile.name, scores[a.pk].band) for a in accounts]


@pytest.mark.parametrize("filters", [*BROKEN_NOW, LOOKUP_SYNTAX])
def test_the_worker_scores_around_a_broken_segment_and_records_it(tenant, filters):
    segment, profile, accounts = _setup(tenant)
    health_rescore_all()
    assert _judged(tenant, accounts) == [("Strategic", "red"), ("Default", "yellow")]

    with tenant_context(tenant):
        Segment.objects.filter(pk=segment.pk).update(filters=filters)
    health_rescore_all()  # the nightly job completes
    # the strategic account falls to Default, as if Strategic did not exist
    assert _judged(tenant, accounts) == [("Default", "yellow"), ("Default", "yellow")]
    with tenant_context(tenant):
        profile.refresh_from_db()
    assert "“Strategic”" in profile.last_error and f"id {segment.pk}" in profile.last_error
    assert profile.last_error_at is not None
    first_seen = profile.last_error_at

    # the debounced re-score of one account gets through as well
    with tenant_context(tenant):
        RescoreRequest.objects.all().delete()  # the sentiments' requests, long served
        health_rescore_request(account_ids=[accounts[0].pk])
    assert rescore_requested(tenant.pk) == 1
    with tenant_context(tenant):
        profile.refresh_from_db()
    assert profile.last_error_at == first_seen  # still failing: not rewritten every run

    with tenant_context(tenant):
        Segment.objects.filter(pk=segment.pk).update(filters={"tier": ["strategic"]})
    health_rescore_all()
    assert _judged(tenant, accounts) == [("Strategic", "red"), ("Default", "yellow")]
    with tenant_context(tenant):
        profile.refresh_from_db()
    assert (profile.last_error, profile.last_error_at) == ("", None)


def test_a_broken_segment_in_one_tenant_leaves_the_others_alone(tenant, other_tenant):
    segment, _, _ = _setup(tenant)
    _, theirs, their_accounts = _setup(other_tenant)
    with tenant_context(tenant):
        Segment.objects.filter(pk=segment.pk).update(filters={"arr_min": "1e999999"})
    health_rescore_all()
    assert _judged(other_tenant, their_accounts) == [("Strategic", "red"), ("Default", "yellow")]
    with tenant_context(other_tenant):
        assert HealthProfile.objects.get(pk=theirs.pk).last_error == ""

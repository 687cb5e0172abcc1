"""Pages filtered by a segment whose stored filter cannot run: a 409 that
keeps the filters (so another segment can be chosen) and names the segment,
never a 500."""

from __future__ import annotations

import re

import pytest

from csplatform.tenancy.models import Role
from lifecycle.models import Segment
from lifecycle.services import segment_save
from tests import factories
from tests.pages.conftest import url

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken(inside):
    with inside():
        factories.contract(factories.account(name="Smallco", tier="smb"))
        segment = segment_save(name="Old EMEA", filters={"tier": ["smb"]})
        # Past the grammar, as a segment saved before it was closed would be.
        Segment.objects.filter(pk=segment.pk).update(
            filters={"tier": ["smb"], "attributes": {"region__regex": "^E"}}
        )
    return segment


def alert(html: str) -> str:
    match = re.search(
        r'<div class="alert error" role="alert" id="segment-broken">(.*?)</div>', html
    )
    assert match, "no #segment-broken"
    return match.group(1)


@pytest.mark.parametrize("name", ["accounts", "health_portfolio", "health_renewals"])
def test_a_page_filtered_by_a_broken_segment_says_which(page, tenant, broken, name):
    response = page(Role.LEADER).get(url(name, tenant, query=f"segment={broken.pk}"))
    assert response.status_code == 409
    html = response.content.decode()
    message = alert(html)
    assert "Old EMEA" in message and f"id {broken.pk}" in message
    assert "attributes.region__regex" in message
    assert 'name="segment"' in html  # the filters are still there
    assert "Smallco" not in html  # and no figures pretend to be the segment's


def test_the_accounts_results_alone_carry_the_message(page, tenant, broken):
    response = page(Role.VIEWER).get(
        url("accounts", tenant, query=f"segment={broken.pk}"),
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="account-results",
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="account-results">')
    assert "Old EMEA" in alert(html)


@pytest.mark.parametrize("name", ["accounts", "health_portfolio", "health_renewals"])
def test_a_sound_segment_still_filters(page, tenant, broken, inside, name):
    with inside():
        Segment.objects.filter(pk=broken.pk).update(filters={"tier": ["smb"]})
    response = page(Role.LEADER).get(url(name, tenant, query=f"segment={broken.pk}"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="segment-broken"' not in html
    if name != "health_portfolio":  # the portfolio lists no account unscored
        assert "Smallco" in html

"""Pages map the domain's exceptions once, and refuse what cannot be stored."""

from __future__ import annotations

import pytest

from csplatform.tenancy.models import Role


@pytest.mark.urls("tests.api.urls_boom")
def test_pages_map_a_domain_conflict_once(page, tenant):
    response = page(Role.CSM).get(f"/t/{tenant.slug}/boom/conflict/")
    assert response.status_code == 409
    assert "The renewal is already closed." in response.content.decode()


def test_a_nul_in_a_page_query_is_400_naming_it(page, tenant):
    response = page(Role.CSM).get(f"/t/{tenant.slug}/accounts/?q=a%00b")
    assert response.status_code == 400
    assert "Contains a NUL character." in response.content.decode()

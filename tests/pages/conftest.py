"""Page tests: Django's test client signed in as a member of `tenant` with a
given role, and URL helpers for the tenant's pages."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from csplatform.tenancy.models import Role


def url(name: str, tenant, *args, query: str = "") -> str:
    path = reverse(name, args=[tenant.slug, *args])
    return f"{path}?{query}" if query else path


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def page(users):
    """`page(role)`: a client signed in as the tenant member with that role."""
    return lambda role=Role.CSM: signed_in(users[role])


def tenant_post_forms(html: str, tenant) -> list[str]:
    """Actions of the POST forms on a page that write to the tenant's data
    (the header's logout form is not one of them)."""
    return [
        action
        for action in re.findall(r'<form[^>]*method="post"[^>]*action="([^"]*)"', html)
        if action.startswith(f"/t/{tenant.slug}/")
    ]

"""Page tests: Django's test client signed in as a member of `tenant` with a
given role, URL helpers for the tenant's pages, and helpers that read them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from csplatform.tenancy.models import Role

HTMX = {"HTTP_HX_REQUEST": "true"}


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


def ago(days: int):
    return timezone.now().date() - timedelta(days=days)


def text(html: str, element_id: str) -> str:
    """The text of the element with that id, tags removed, spaces collapsed."""
    match = re.search(rf'<(\w+)[^>]*id="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no #{element_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(2)).split())

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect

from lifecycle.models import Account


def get_account(pk: int) -> Account:
    """The account of the tenant in context; another tenant's id is a 404."""
    return get_object_or_404(Account.objects.select_related("owner"), pk=pk)


def back_to_account(request, account: Account, message: str = ""):
    if message:
        messages.success(request, message)
    return redirect("account", tenant_slug=request.tenant.slug, pk=account.pk)

"""The health card of the account page (score, band, trend, the breakdown
with its working) and setting the CSM sentiment in place; the same card is a
page of its own for browsers without JavaScript."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST

from csplatform.tenancy.models import Role, role_at_least
from csplatform.ui.access import FORM_ERRORS, requires_role
from health import selectors, services
from health.charts import score_trend_chart
from health.models import Band, CsmSentiment, HealthScore
from lifecycle.forms import apply_errors
from lifecycle.views.common import get_account

TREND_DAYS = 90


class SentimentForm(forms.Form):
    value = forms.ChoiceField(
        label="CSM sentiment", choices=Band.choices, widget=forms.RadioSelect, required=False
    )
    comment = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Why? The next reader needs it."}),
    )


def panel_context(request, account) -> dict:
    """What the account page needs for the placeholder: a URL, no query."""
    return {"url": reverse("account_health", args=[request.tenant.slug, account.pk])}


def card_context(request, account, *, form=None) -> dict:
    card = selectors.score_card(account)
    context = {"account": account, "card": card, "trend_days": TREND_DAYS}
    if card is not None:
        rows = [{"line": line, "measured": line.measured} for line in card.lines]
        context["rows"] = rows
        context["present"] = [row for row in rows if not row["line"].missing]
        bands = (
            HealthScore.objects.filter(account=account)
            .values("profile__red_below", "profile__green_from")
            .first()
            or {}
        )
        context["chart"] = score_trend_chart(
            selectors.score_history(account, days=TREND_DAYS),
            days=TREND_DAYS,
            today=timezone.now().date(),
            red_below=bands.get("profile__red_below"),
            green_from=bands.get("profile__green_from"),
        )
        context["thresholds"] = bands
    context["sentiment"] = (
        CsmSentiment.objects.filter(account=account).select_related("set_by").first()
    )
    if role_at_least(request.tenant_role, Role.CSM):
        context["sentiment_form"] = form or SentimentForm(auto_id="sentiment_%s")
    return context


def _render(request, account, *, status=200, form=None):
    context = card_context(request, account, form=form)
    # htmx loads the card into the account page; a plain visit gets a page.
    template = "health/_account_health.html" if request.htmx else "health/account_health.html"
    response = render(request, template, context, status=status)
    # one URL, two bodies: caches must not hand the fragment to a plain visit
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_http_methods(["GET"])
@requires_role(Role.VIEWER)
def account_health(request, tenant_slug, pk):
    return _render(request, get_account(pk))


@require_POST
@requires_role(Role.CSM)
def sentiment_set(request, tenant_slug, pk):
    """Set the CSM sentiment and re-score the account at once, so the card
    that comes back already counts it. Bad input: 422 with the card and the
    form's field messages; nothing stored."""
    account = get_account(pk)
    form = SentimentForm(request.POST, auto_id="sentiment_%s")
    saved = False
    if form.is_valid():
        try:
            with transaction.atomic():
                services.csm_sentiment_set(
                    account=account,
                    value=form.cleaned_data["value"],
                    comment=form.cleaned_data["comment"],
                    actor=request.user,
                )
                services.health_rescore(account_ids=[account.pk])
            saved = True
        except ValidationError as error:
            apply_errors(form, error)
    if saved and not request.htmx:
        return redirect("account", tenant_slug=tenant_slug, pk=account.pk)
    return _render(
        request,
        account,
        status=200 if saved else FORM_ERRORS,
        form=None if saved else form,
    )

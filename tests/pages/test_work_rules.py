"""The rule pages: the list (CSMs read, leaders switch), the editor (leaders
and admins; 422 with each message at its field; the form re-drawn for a new
trigger or action kind), the run log with "retry now", roles, other
tenants' ids, and query counts that do not grow with the rows."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from csplatform.events.models import DomainEvent
from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from lifecycle.services import escalation_open, segment_save
from tests import factories
from tests.pages.conftest import tenant_post_forms, url
from tests.work.rules_data import deliver, evaluate, move, playbook, rule
from work.models import ActionRun, ActionStatus, FiringStatus, Rule, RuleFiring
from work.rules.engine import rules_sweep

pytestmark = pytest.mark.django_db


def field_error(html: str, field_id: str) -> str:
    match = re.search(rf'id="{re.escape(field_id)}_error">(.*?)</ul>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split()) if match else ""


def form(**overrides) -> dict:
    data = {
        "name": "Adoption kickoff",
        "description": "Start the kickoff playbook",
        "is_active": "on",
        "cooldown_hours": "0",
        "trigger": "stage_entered",
        "trigger_config.stage": "adoption",
        "conditions.0.field": "tier",
        "conditions.0.op": "in",
        "conditions.0.value": "enterprise, strategic",
        "conditions.1.field": "attribute",
        "conditions.1.key": "seats",
        "conditions.1.op": "gte",
        "conditions.1.value": "10",
        "actions.0.kind": "create_task",
        "actions.0.config.title": "Kickoff call",
        "actions.0.config.due_in_days": "3",
        "actions.0.config.priority": "2",
        "actions.0.config.assignee": "owner",
    }
    data.update(overrides)
    return data


@pytest.fixture
def fired(inside):
    """A rule with a failed action, fired for one account."""
    with inside():
        r = rule(
            "escalation_opened",
            actions=[
                {"kind": "notify_email", "config": {"to": "owner"}},
                {"kind": "timeline_entry", "config": {"title": "Escalated"}},
            ],
            name="Escalation alert",
        )
        acct = factories.account(name="Initech")
        evaluate(
            trigger="escalation_opened", account_id=acct.pk, occurrence_key="event:9", payload={}
        )
    return r, acct


# -- the list --------------------------------------------------------------------
def test_the_list_shows_each_rule_with_its_activity(page, tenant, fired):
    r, _ = fired
    html = page(Role.CSM).get(url("rules", tenant)).content.decode()
    row = html[html.index(f'id="rule-{r.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Escalation alert" in row and "Escalation opened" in row
    assert "Email account owner" in row and "Timeline: “Escalated”" in row
    # fired once in 7 days, and that firing failed partly
    assert re.search(r'<td class="num">1</td>', row)
    assert '<span class="badge escalated">1</span>' in row
    assert url("rule_log", tenant, r.pk) in row


def test_csm_reads_the_list_without_edit_controls_and_the_viewer_is_refused(page, tenant, fired):
    html = page(Role.CSM).get(url("rules", tenant)).content.decode()
    assert tenant_post_forms(html, tenant) == []
    assert "New rule" not in html
    assert url("rules", tenant) in page(Role.CSM).get(url("accounts", tenant)).content.decode()
    assert page(Role.VIEWER).get(url("rules", tenant)).status_code == 403
    nav = page(Role.VIEWER).get(url("accounts", tenant)).content.decode()
    assert url("rules", tenant) not in nav


def test_a_leader_switches_a_rule_off_and_on(page, tenant, fired, inside):
    r, _ = fired
    client = page(Role.LEADER)
    html = client.get(url("rules", tenant)).content.decode()
    assert url("rule_toggle", tenant, r.pk) in tenant_post_forms(html, tenant)
    assert client.post(url("rule_toggle", tenant, r.pk)).status_code == 302
    with inside():
        assert Rule.objects.get(pk=r.pk).is_active is False
    client.post(url("rule_toggle", tenant, r.pk), {"is_active": "on"})
    with inside():
        assert Rule.objects.get(pk=r.pk).is_active is True
    assert page(Role.CSM).post(url("rule_toggle", tenant, r.pk)).status_code == 403


@pytest.mark.parametrize("n", [3, 30])
def test_the_list_costs_the_same_for_3_or_30_rules(
    n, page, tenant, inside, django_assert_num_queries
):
    with inside():
        book = playbook()
        segment = segment_save(name="Enterprise", filters={"tier": ["enterprise"]})
        for i in range(n):
            r = rule(
                "stage_entered",
                {"stage": "adoption"},
                conditions=[{"field": "segment", "op": "in", "value": segment.pk}],
                actions=[
                    {"kind": "start_playbook", "config": {"playbook_id": book.pk}},
                    {"kind": "timeline_entry", "config": {"title": "x"}},
                ],
                name=f"Rule {i:02d}",
            )
            RuleFiring.objects.create(rule=r, account=factories.account(), occurrence_key="x")
    client = page(Role.LEADER)
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(url("rules", tenant))
    assert response.content.decode().count('id="rule-') == n
    assert "Start playbook “Adoption kickoff”" in response.content.decode()


LIST_QUERIES = 24  # with the nav's "My work" count


# -- the editor ------------------------------------------------------------------
def test_a_leader_creates_a_rule(page, tenant, inside, users):
    response = page(Role.LEADER).post(url("rule_new", tenant), form())
    assert response.status_code == 302
    with inside():
        saved = Rule.objects.get(name="Adoption kickoff")
        assert saved.created_by == users["leader"]
        assert (saved.trigger, saved.trigger_config) == ("stage_entered", {"stage": "adoption"})
        assert saved.conditions == [
            {"field": "tier", "op": "in", "value": ["enterprise", "strategic"]},
            {"field": "attribute", "op": "gte", "key": "seats", "value": 10},
        ]
        [action] = saved.actions.all()
        assert action.kind == "create_task"
        assert action.config["title"] == "Kickoff call"
        assert (action.config["due_in_days"], action.config["priority"]) == (3, 2)


def test_saving_through_htmx_sends_the_browser_to_the_rule_list(page, tenant, inside):
    response = page(Role.LEADER).post(url("rule_new", tenant), form(), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"] == url("rules", tenant)
    with inside():
        assert Rule.objects.filter(name="Adoption kickoff").exists()


def test_bad_input_is_422_with_each_message_at_its_field(page, tenant, other_tenant):
    with tenant_context(other_tenant):
        theirs = playbook("Theirs")
    response = page(Role.ADMIN).post(
        url("rule_new", tenant),
        form(
            name="",
            **{
                "trigger_config.stage": "",
                "conditions.0.value": "gold",
                "conditions.1.key": "not ok!",
                "actions.0.kind": "start_playbook",
                "actions.0.config.playbook_id": str(theirs.pk),
                "actions.1.kind": "webhook",
                "actions.1.config.url": "ftp://example.test",
                "actions.1.config.secret": "short",
            },
        ),
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert field_error(html, "f-name") == "Give the rule a name."
    assert field_error(html, "f-trigger_config-stage") == "Choose one."
    assert "Unknown tier: gold" in field_error(html, "f-conditions-0-value")
    assert "letters, digits" in field_error(html, "f-conditions-1-key")
    assert field_error(html, "f-actions-0-config-playbook_id") == (
        "No such playbook in this workspace."
    )
    assert field_error(html, "f-actions-1-config-url") == "Enter an http:// or https:// address."
    assert field_error(html, "f-actions-1-config-secret").startswith(
        "Use a secret of at least 8 characters"
    )
    # what was typed is kept
    assert 'value="gold"' in html


@pytest.mark.parametrize(
    ("typed", "field"),
    [
        ({"name": "Kick\x00off"}, "name"),
        ({"description": "a\x00b"}, "description"),
        ({"actions.0.config.title": "Kick\x00off"}, "actions"),
        ({"conditions.0.field": "owner", "conditions.0.value": "a\x00@x.test"}, "conditions"),
    ],
)
def test_a_nul_character_is_422_not_a_500(page, tenant, inside, typed, field):
    response = page(Role.LEADER).post(url("rule_new", tenant), form(**typed))
    assert response.status_code == 422
    assert "Remove the NUL character" in response.content.decode()
    with inside():
        assert not Rule.objects.exists()


def test_a_rule_needs_an_action(page, tenant):
    response = page(Role.LEADER).post(url("rule_new", tenant), form(**{"actions.0.kind": ""}))
    assert response.status_code == 422
    assert "Add at least one action." in response.content.decode()


def test_choosing_another_trigger_redraws_its_fields(page, tenant, inside):
    response = page(Role.LEADER).post(
        url("rule_new", tenant),
        form(trigger="usage_count", _reshape="1", **{"actions.0.kind": "webhook"}),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("event", "comparison", "count", "window_days"):
        assert f'name="trigger_config.{name}"' in html
    assert 'name="actions.0.config.url"' in html and 'name="actions.0.config.secret"' in html
    assert 'name="actions.1.kind"' in html  # a blank row to add another
    assert "errorlist" not in html  # not saved, not judged
    with inside():
        assert not Rule.objects.exists()


def test_editing_keeps_the_webhook_secret_unseen(page, tenant, inside):
    with inside():
        r = rule(
            "escalation_opened",
            actions=[
                {"kind": "webhook", "config": {"url": "https://h.test/x", "secret": "topsecret1"}}
            ],
        )
    client = page(Role.LEADER)
    html = client.get(url("rule_edit", tenant, r.pk)).content.decode()
    assert "topsecret1" not in html
    assert 'placeholder="unchanged"' in html
    response = client.post(
        url("rule_edit", tenant, r.pk),
        {
            "name": "Renamed",
            "trigger": "escalation_opened",
            "cooldown_hours": "12",
            "actions.0.kind": "webhook",
            "actions.0.config.url": "https://h.test/y",
            "actions.0.config.secret": "",
        },
    )
    assert response.status_code == 302
    with inside():
        r.refresh_from_db()
        assert (r.name, r.cooldown_hours, r.is_active) == ("Renamed", 12, False)
        assert r.actions.get().config == {"url": "https://h.test/y", "secret": "topsecret1"}


def test_a_new_webhook_without_a_secret_shows_the_generated_one_once(page, tenant, inside):
    client = page(Role.LEADER)
    response = client.post(
        url("rule_new", tenant),
        {
            "name": "Hook",
            "trigger": "escalation_opened",
            "cooldown_hours": "0",
            "is_active": "on",
            "actions.0.kind": "webhook",
            "actions.0.config.url": "https://h.test/new",
            "actions.0.config.secret": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    with inside():
        secret = Rule.objects.get(name="Hook").actions.get().config["secret"]
    assert secret.startswith("whsec_")
    assert secret in response.content.decode()  # shown once, after the save ...
    assert secret not in client.get(url("rules", tenant)).content.decode()  # ... never again


def test_the_editor_shows_a_saved_rule(page, tenant, inside, users):
    with inside():
        r = rule(
            "usage_count",
            {"event": "login", "comparison": "at_most", "count": 2, "window_days": 14},
            conditions=[
                {"field": "owner", "op": "in", "value": [users["csm"].pk]},
                {"field": "attribute", "key": "code", "op": "eq", "value": "5"},
            ],
            actions=[{"kind": "move_stage", "config": {"to_stage": "churned"}}],
        )
    html = page(Role.LEADER).get(url("rule_edit", tenant, r.pk)).content.decode()
    assert 'name="trigger_config.event" id="f-trigger_config-event" value="login"' in html
    assert '<option value="at_most" selected>' in html
    assert f'name="conditions.0.value" id="f-conditions-0-value" value="{users["csm"].pk}"' in html
    assert 'value="&quot;5&quot;"' in html  # text "5", not the number
    assert '<option value="churned" selected>' in html


def test_owners_may_be_typed_as_emails_and_are_listed_by_email(page, tenant, inside, users):
    data = form(**{"conditions.0.field": "owner", "conditions.0.value": users["csm"].email})
    assert page(Role.LEADER).post(url("rule_new", tenant), data).status_code == 302
    with inside():
        assert Rule.objects.get().conditions[0]["value"] == [users["csm"].pk]
    html = page(Role.CSM).get(url("rules", tenant)).content.decode()
    assert f"if Owner is one of {users['csm'].email}" in html


def test_only_leaders_and_admins_edit(page, tenant, fired):
    r, _ = fired
    for role in (Role.CSM, Role.VIEWER):
        client = page(role)
        assert client.get(url("rule_new", tenant)).status_code == 403
        assert client.post(url("rule_new", tenant), form()).status_code == 403
        assert client.get(url("rule_edit", tenant, r.pk)).status_code == 403
        assert client.post(url("rule_delete", tenant, r.pk)).status_code == 403
    assert page(Role.ADMIN).get(url("rule_new", tenant)).status_code == 200


def test_a_leader_deletes_a_rule(page, tenant, fired, inside):
    r, _ = fired
    assert page(Role.LEADER).post(url("rule_delete", tenant, r.pk)).status_code == 302
    with inside():
        assert not Rule.objects.filter(pk=r.pk).exists()
        assert not RuleFiring.objects.exists()


def test_another_tenants_rule_is_404(page, tenant, other_tenant):
    with tenant_context(other_tenant):
        theirs = rule("escalation_opened", name="Theirs")
        acct = factories.account()
        evaluate(trigger="escalation_opened", account_id=acct.pk, occurrence_key="e:1", payload={})
        run = ActionRun.objects.get()
    client = page(Role.ADMIN)
    assert client.get(url("rule_edit", tenant, theirs.pk)).status_code == 404
    assert client.post(url("rule_edit", tenant, theirs.pk), form()).status_code == 404
    assert client.get(url("rule_log", tenant, theirs.pk)).status_code == 404
    assert client.post(url("rule_toggle", tenant, theirs.pk)).status_code == 404
    assert client.post(url("rule_delete", tenant, theirs.pk)).status_code == 404
    retry = url("rule_action_retry", tenant, theirs.pk, run.pk)
    assert client.post(retry).status_code == 404
    with tenant_context(other_tenant):
        assert Rule.objects.filter(pk=theirs.pk).exists()


# -- the run log -----------------------------------------------------------------
def test_the_run_log_shows_what_fired_and_why_it_failed(page, tenant, fired):
    r, acct = fired
    response = page(Role.CSM).get(url("rule_log", tenant, r.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert url("account", tenant, acct.pk) in html and "Initech" in html
    # no such event: what happened, without a time it does not know
    assert "Initech: escalation opened<" in html and 'title="Occurrence key event:9"' in html
    assert "Some actions failed" in html
    assert "Notify by email" in html and "Nobody to notify: the account owner is not set." in html
    assert "Add a timeline entry" in html
    assert tenant_post_forms(html, tenant) == []  # a CSM cannot retry
    assert page(Role.VIEWER).get(url("rule_log", tenant, r.pk)).status_code == 403


def test_a_leader_retries_a_failed_action_now(page, tenant, fired, inside, users):
    r, acct = fired
    with inside():
        run = ActionRun.objects.get(kind="notify_email")
        acct.owner = users["csm"]
        acct.save()
    client = page(Role.LEADER)
    html = client.get(url("rule_log", tenant, r.pk)).content.decode()
    retry = url("rule_action_retry", tenant, r.pk, run.pk)
    assert retry in tenant_post_forms(html, tenant)
    assert page(Role.CSM).post(retry).status_code == 403
    response = client.post(retry, follow=True)
    assert "Retried the action: it succeeded" in response.content.decode()
    with inside():
        run.refresh_from_db()
        assert (run.status, run.attempts) == (ActionStatus.SUCCEEDED, 2)
        assert RuleFiring.objects.get().status == FiringStatus.SUCCEEDED


def test_the_skip_reason_is_in_the_log(page, tenant, inside):
    with inside():
        r = rule("escalation_opened", cooldown_hours=48)
        acct = factories.account()
        for key in ("event:1", "event:2"):
            evaluate(
                trigger="escalation_opened", account_id=acct.pk, occurrence_key=key, payload={}
            )
    html = page(Role.CSM).get(url("rule_log", tenant, r.pk)).content.decode()
    assert "Skipped (cool-down)" in html and "within the 48-hour cool-down" in html


def when(event) -> str:
    at = timezone.localtime(event.created_at)
    return f"{at:%a} {at.day} {at:%b %Y %H:%M}"


def test_the_run_log_shows_readable_occurrences(page, tenant, inside):
    today = timezone.localdate()
    renews = today + dt.timedelta(days=12)
    with inside():
        renewal = rule("renewal_within", {"days": 30}, name="Renewal soon")
        acct = factories.account(name="Globex")
        factories.contract(acct, renewal_date=renews, arr=Decimal("4000"))
        factories.contract(acct, renewal_date=renews, arr=Decimal("6000"))
        rules_sweep()
        escalated = rule("escalation_opened", name="Escalated")
        escalation_open(account=acct, reason="Outage", actor=None)
        deliver()
        event = DomainEvent.objects.get(kind="escalation_opened")
        moved = rule("stage_entered", {"stage": "adoption"}, name="Adopted")
        move(acct, "adoption")
        deliver()
        stage_event = DomainEvent.objects.get(kind="stage_changed")
    client = page(Role.LEADER)
    html = client.get(url("rule_log", tenant, renewal.pk)).content.decode()
    day = f"{renews:%a} {renews.day} {renews:%b %Y}"
    assert f"Globex: renews {day} (2 contracts, ARR 10,000)<" in html
    assert f"renewal:{acct.pk}:{renews}<" not in html
    html = client.get(url("rule_log", tenant, escalated.pk)).content.decode()
    assert f"Globex: escalation opened: Outage, {when(event)}<" in html
    html = client.get(url("rule_log", tenant, moved.pk)).content.decode()
    assert f"Globex: moved from Onboarding to Adoption (forced), {when(stage_event)}<" in html


@pytest.mark.parametrize("n", [3, 30])
def test_the_run_log_costs_the_same_for_3_or_30_firings(
    n, page, tenant, inside, django_assert_num_queries
):
    with inside():
        r = rule(
            "escalation_opened",
            actions=[
                {"kind": "timeline_entry", "config": {"title": "a"}},
                {"kind": "timeline_entry", "config": {"title": "b"}},
            ],
        )
        for i in range(n):
            acct = factories.account()
            # readable occurrences of events (one lookup) and of a sweep's keys
            key = f"event:{i}" if i % 2 else f"renewal:{acct.pk}:2030-01-0{i % 9 + 1}"
            evaluate(
                trigger="escalation_opened", account_id=acct.pk, occurrence_key=key, payload={}
            )
    client = page(Role.LEADER)
    with django_assert_num_queries(LOG_QUERIES):
        response = client.get(url("rule_log", tenant, r.pk))
    assert response.content.decode().count('id="firing-') == n


LOG_QUERIES = 25  # with the nav's "My work" count and the events' times

"""Playbook pages: the list (everyone reads, leaders edit), a playbook with
its steps and editor, and the Work card of the account page that starts
playbooks once per rendered form."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from csplatform.tenancy.context import tenant_context
from csplatform.tenancy.models import Role
from tests import factories
from tests.conftest import make_user
from tests.pages.conftest import HTMX, tenant_post_forms, url
from work import services
from work.models import Playbook, PlaybookRun, PlaybookStep, RunStatus, Task, TaskStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def playbook(inside):
    with inside():
        playbook = services.playbook_save(name="Kickoff plan", stage="onboarding")
        first = services.playbook_step_save(playbook=playbook, title="Call the champion")
        services.playbook_step_save(
            playbook=playbook, title="Send the recap", depends_on_id=first.pk
        )
    return playbook


@pytest.fixture
def acct(inside, users):
    with inside():
        return factories.account(owner=users[Role.CSM])


def nonce(html: str) -> str:
    return re.search(r'name="nonce" value="([^"]+)"', html).group(1)


def test_everyone_reads_the_list_with_step_counts(page, tenant, playbook):
    response = page(Role.VIEWER).get(url("work_playbooks", tenant))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Kickoff plan" in html and "Onboarding kickoff" in html  # ours and a default
    row = re.search(rf'id="playbook-{playbook.pk}".*?</tr>', html, re.S).group(0)
    assert '<td class="num">2</td>' in row
    assert tenant_post_forms(html, tenant) == []
    leader = page(Role.LEADER).get(url("work_playbooks", tenant)).content.decode()
    assert url("work_playbook_create", tenant) in tenant_post_forms(leader, tenant)


def test_nav_links(page, tenant):
    viewer = page(Role.VIEWER).get(url("work_playbooks", tenant)).content.decode()
    assert url("work_playbooks", tenant) in viewer and url("work_team", tenant) not in viewer
    leader = page(Role.LEADER).get(url("work_playbooks", tenant)).content.decode()
    assert url("work_team", tenant) in leader


def test_leader_creates_a_playbook_and_a_duplicate_name_is_422(page, tenant, inside):
    client = page(Role.LEADER)
    response = client.post(
        url("work_playbook_create", tenant), {"name": "Expansion", "stage": "", "is_active": "on"}
    )
    with inside():
        created = Playbook.objects.get(name="Expansion")
    assert response.status_code == 302
    assert response["Location"] == url("work_playbook", tenant, created.pk)
    again = client.post(url("work_playbook_create", tenant), {"name": "Expansion"})
    assert again.status_code == 422
    assert "new_playbook_name_error" in again.content.decode()
    assert "already a playbook" in again.content.decode()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CSM])
def test_only_leaders_change_playbooks(page, tenant, inside, playbook, role):
    client = page(role)
    with inside():
        step = PlaybookStep.objects.filter(playbook=playbook).first()
    posts = [
        (url("work_playbook_create", tenant), {"name": "Nope"}),
        (url("work_playbook", tenant, playbook.pk), {"name": "Renamed"}),
        (url("work_playbook_delete", tenant, playbook.pk), {}),
        (url("work_step_create", tenant, playbook.pk), {"new-title": "X"}),
        (url("work_step_edit", tenant, playbook.pk, step.pk), {"title": "X"}),
        (url("work_step_delete", tenant, playbook.pk, step.pk), {}),
    ]
    for target, data in posts:
        assert client.post(target, data).status_code == 403, target
    with inside():
        assert Playbook.objects.filter(name="Kickoff plan").exists()
        assert PlaybookStep.objects.filter(playbook=playbook).count() == 2
    detail = client.get(url("work_playbook", tenant, playbook.pk))
    assert detail.status_code == 200
    assert "Call the champion" in detail.content.decode()
    assert tenant_post_forms(detail.content.decode(), tenant) == []


def step_post(**fields) -> dict:
    data = {
        "title": "Check the integration",
        "instructions": "Look at the event stream.",
        "required_skill": "technical",
        "estimated_minutes": 40,
        "due_offset_days": 3,
        "priority": 2,
        "assignee_rule": "least_loaded",
        "assignee_user": "",
        "assignee_group": "",
        "depends_on": "",
        "position": "",
        **fields,
    }
    return {f"new-{k}": v for k, v in data.items()}


def test_leader_adds_edits_and_removes_steps(page, tenant, inside, playbook):
    client = page(Role.LEADER)
    detail = client.get(url("work_playbook", tenant, playbook.pk)).content.decode()
    assert url("work_step_create", tenant, playbook.pk) in tenant_post_forms(detail, tenant)
    with inside():
        first = PlaybookStep.objects.get(playbook=playbook, title="Call the champion")
    response = client.post(
        url("work_step_create", tenant, playbook.pk), step_post(depends_on=first.pk)
    )
    assert response.status_code == 302
    with inside():
        step = PlaybookStep.objects.get(playbook=playbook, title="Check the integration")
    assert (step.position, step.required_skill, step.depends_on_id) == (3, "technical", first.pk)
    edit_url = url("work_step_edit", tenant, playbook.pk, step.pk)
    form = client.get(edit_url)
    assert form.status_code == 200 and 'value="Check the integration"' in form.content.decode()
    data = {k.removeprefix("new-"): v for k, v in step_post(estimated_minutes=55).items()}
    assert client.post(edit_url, data).status_code == 302
    with inside():
        assert PlaybookStep.objects.get(pk=step.pk).estimated_minutes == 55
    assert client.post(url("work_step_delete", tenant, playbook.pk, step.pk)).status_code == 302
    with inside():
        assert not PlaybookStep.objects.filter(pk=step.pk).exists()


def test_bad_steps_are_422_with_field_messages(page, tenant, inside, playbook):
    client = page(Role.LEADER)
    bad = step_post(title="", assignee_rule="user", required_skill="nonsense")
    response = client.post(url("work_step_create", tenant, playbook.pk), bad)
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_new-title_error"' in html
    assert 'id="id_new-required_skill_error"' in html
    missing = client.post(
        url("work_step_create", tenant, playbook.pk), step_post(assignee_rule="user")
    )
    assert missing.status_code == 422 and "id_new-assignee_user_error" in missing.content.decode()
    with inside():
        first, second = PlaybookStep.objects.filter(playbook=playbook).order_by("position")
    # The first step cannot wait for the second.
    edit = {k.removeprefix("new-"): v for k, v in step_post(depends_on=second.pk).items()}
    response = client.post(url("work_step_edit", tenant, playbook.pk, first.pk), edit)
    assert response.status_code == 422
    assert "id_depends_on_error" in response.content.decode()
    with inside():
        assert PlaybookStep.objects.filter(playbook=playbook).count() == 2


def test_delete_switches_off_a_playbook_that_ran(page, tenant, inside, playbook, acct):
    with inside():
        services.playbook_start(playbook=playbook, account=acct, occurrence_key="k", actor=None)
        unused = services.playbook_save(name="Unused")
    client = page(Role.ADMIN)
    assert client.post(url("work_playbook_delete", tenant, unused.pk)).status_code == 302
    assert client.post(url("work_playbook_delete", tenant, playbook.pk)).status_code == 302
    with inside():
        assert not Playbook.objects.filter(pk=unused.pk).exists()
        assert Playbook.objects.get(pk=playbook.pk).is_active is False


def test_editing_the_playbook_itself(page, tenant, inside, playbook):
    client = page(Role.LEADER)
    ok = client.post(
        url("work_playbook", tenant, playbook.pk),
        {"name": "Kickoff v2", "description": "New", "stage": "adoption", "is_active": "on"},
    )
    assert ok.status_code == 302
    with inside():
        assert Playbook.objects.get(pk=playbook.pk).name == "Kickoff v2"
    bad = client.post(url("work_playbook", tenant, playbook.pk), {"name": "", "stage": "x"})
    assert bad.status_code == 422
    assert "playbook_name_error" in bad.content.decode()


def test_another_tenants_playbooks_runs_and_accounts_are_404(page, tenant, other_tenant):
    with tenant_context(other_tenant):
        theirs = Playbook.objects.get(key="onboarding-kickoff")
        step = theirs.steps.first()
        account = factories.account()
        run, _ = services.playbook_start(
            playbook=theirs, account=account, occurrence_key="k", actor=None
        )
    client = page(Role.ADMIN)
    assert client.get(url("work_playbook", tenant, theirs.pk)).status_code == 404
    assert client.get(url("work_step_edit", tenant, theirs.pk, step.pk)).status_code == 404
    assert client.post(url("work_playbook_delete", tenant, theirs.pk)).status_code == 404
    assert client.post(url("work_step_create", tenant, theirs.pk), step_post()).status_code == 404
    assert client.get(url("work_account", tenant, account.pk)).status_code == 404
    assert client.post(url("work_account_start", tenant, account.pk), {}).status_code == 404
    assert client.post(url("work_run_cancel", tenant, run.pk)).status_code == 404
    with tenant_context(other_tenant):
        assert Playbook.objects.filter(pk=theirs.pk, is_active=True).exists()


def test_list_costs_the_same_for_3_and_30_playbooks(page, tenant, inside, acct):
    client = page(Role.LEADER)
    with inside():
        Playbook.objects.all().delete()

    def count(more: int) -> tuple[int, int]:
        with inside():
            for i in range(more):
                playbook = services.playbook_save(name=f"Playbook {Playbook.objects.count()} {i}")
                services.playbook_step_save(playbook=playbook, title="Step")
                services.playbook_start(
                    playbook=playbook, account=acct, occurrence_key="k", actor=None
                )
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url("work_playbooks", tenant))
        assert response.status_code == 200
        return len(ctx.captured_queries), response.content.decode().count('id="playbook-')

    count(0)  # warm: the first request also reads what later ones find cached
    few, few_rows = count(3)
    many, many_rows = count(27)
    assert (few_rows, many_rows) == (3, 30)
    assert many == few


# -- the account page's Work card ---------------------------------------------
def test_account_page_has_the_work_placeholder(page, tenant, acct):
    html = page(Role.VIEWER).get(url("account", tenant, acct.pk)).content.decode()
    assert 'id="work-card"' in html
    assert f'hx-get="{url("work_account", tenant, acct.pk)}"' in html


def test_csm_starts_a_playbook_once_per_form(page, tenant, inside, playbook, acct, users):
    client = page(Role.CSM)
    card = client.get(url("work_account", tenant, acct.pk)).content.decode()
    assert url("work_account_start", tenant, acct.pk) in tenant_post_forms(card, tenant)
    data = {"playbook": playbook.pk, "reason": "New contract", "nonce": nonce(card)}
    first = client.post(url("work_account_start", tenant, acct.pk), data, **HTMX)
    assert first.status_code == 200
    assert "Call the champion" in first.content.decode()
    # The same form sent again (a double click) starts nothing more.
    again = client.post(url("work_account_start", tenant, acct.pk), data, **HTMX)
    assert "already started" in again.content.decode()
    with inside():
        run = PlaybookRun.objects.get(account=acct)
        assert run.occurrence_key == f"manual:{users[Role.CSM].pk}:{data['nonce']}"
        assert run.started_by == users[Role.CSM]
        assert list(Task.objects.filter(run=run).values_list("title", flat=True)) == [
            "Call the champion"
        ]
    # A fresh render is a new nonce: a second, deliberate start.
    fresh = nonce(client.get(url("work_account", tenant, acct.pk)).content.decode())
    assert fresh != data["nonce"]
    plain = client.post(url("work_account_start", tenant, acct.pk), {**data, "nonce": fresh})
    assert plain.status_code == 302 and plain["Location"] == url("account", tenant, acct.pk)
    with inside():
        assert PlaybookRun.objects.filter(account=acct).count() == 2


def test_start_with_bad_input_is_422(page, tenant, inside, playbook, acct):
    client = page(Role.CSM)
    with inside():
        off = services.playbook_save(name="Off", is_active=False)
    for data, message in [
        ({"playbook": "", "nonce": "abcdefgh12"}, 'id="id_playbook_error"'),
        ({"playbook": off.pk, "nonce": "abcdefgh12"}, 'id="id_playbook_error"'),
        ({"playbook": playbook.pk, "nonce": "<bad>"}, "reload the page"),
    ]:
        response = client.post(url("work_account_start", tenant, acct.pk), data, **HTMX)
        assert response.status_code == 422, data
        assert message in response.content.decode()
    with inside():
        assert not PlaybookRun.objects.exists()


def test_viewers_read_the_card_but_cannot_start_or_cancel(page, tenant, inside, playbook, acct):
    with inside():
        run, _ = services.playbook_start(
            playbook=playbook, account=acct, occurrence_key="k", actor=None
        )
    client = page(Role.VIEWER)
    card = client.get(url("work_account", tenant, acct.pk))
    assert card.status_code == 200
    html = card.content.decode()
    assert "Call the champion" in html and "Kickoff plan" in html
    assert tenant_post_forms(html, tenant) == []
    data = {"playbook": playbook.pk, "nonce": "abcdefgh12"}
    assert client.post(url("work_account_start", tenant, acct.pk), data).status_code == 403
    assert client.post(url("work_run_cancel", tenant, run.pk)).status_code == 403
    with inside():
        assert PlaybookRun.objects.filter(account=acct).count() == 1


def test_csm_cancels_a_run(page, tenant, inside, playbook, acct):
    with inside():
        run, _ = services.playbook_start(
            playbook=playbook, account=acct, occurrence_key="k", actor=None
        )
    response = page(Role.CSM).post(url("work_run_cancel", tenant, run.pk), **HTMX)
    assert response.status_code == 200 and "No playbook is running" in response.content.decode()
    with inside():
        assert PlaybookRun.objects.get(pk=run.pk).status == RunStatus.CANCELLED
        assert Task.objects.get(run=run).status == TaskStatus.CANCELLED


def test_a_csm_cannot_cancel_a_run_on_someone_elses_account(page, tenant, inside, playbook, users):
    """Cancelling a run cancels its tasks, whoever has them; a CSM acts only
    on their own accounts (leaders anywhere)."""
    with inside():
        theirs = factories.account(owner=users[Role.LEADER], name="Not mine")
        run, _ = services.playbook_start(
            playbook=playbook, account=theirs, occurrence_key="k", actor=None
        )
    client = page(Role.CSM)
    card = client.get(url("work_account", tenant, theirs.pk)).content.decode()
    assert url("work_run_cancel", tenant, run.pk) not in card
    assert client.post(url("work_run_cancel", tenant, run.pk), **HTMX).status_code == 403
    with inside():
        assert PlaybookRun.objects.get(pk=run.pk).status == RunStatus.ACTIVE
        assert Task.objects.get(run=run).status == TaskStatus.OPEN
    leader = page(Role.LEADER)
    assert (
        url("work_run_cancel", tenant, run.pk)
        in leader.get(url("work_account", tenant, theirs.pk)).content.decode()
    )
    assert leader.post(url("work_run_cancel", tenant, run.pk), **HTMX).status_code == 200
    with inside():
        assert PlaybookRun.objects.get(pk=run.pk).status == RunStatus.CANCELLED


def test_card_costs_the_same_for_3_and_30_tasks(page, tenant, inside, acct, users):
    client = page(Role.CSM)
    other = make_user(tenant, Role.CSM)

    def count(more: int) -> tuple[int, int]:
        with inside():
            for i in range(more):
                playbook = services.playbook_save(name=f"P{Playbook.objects.count()}-{i}")
                services.playbook_step_save(
                    playbook=playbook,
                    title="Task",
                    assignee_rule="user",
                    assignee_user_id=(other if i % 2 else users[Role.CSM]).pk,
                )
                services.playbook_start(
                    playbook=playbook, account=acct, occurrence_key="k", actor=None
                )
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url("work_account", tenant, acct.pk))
        assert response.status_code == 200
        html = response.content.decode()
        return len(ctx.captured_queries), html.count("<tr><td>Task</td>")

    count(0)  # warm: the first request also reads what later ones find cached
    few, few_rows = count(3)
    many, many_rows = count(27)
    assert (few_rows, many_rows) == (3, 30)
    assert many == few


def test_signed_out_is_sent_to_login(tenant, acct):
    from django.test import Client

    response = Client().get(url("work_playbooks", tenant))
    assert response.status_code == 302 and "/login/" in response["Location"]

"""The CSM's queue at /t/<tenant>/work/: my open tasks by bucket, the "show
more" rows of a bucket, a new task, and (for leaders) any member's queue with
bulk reassignment; plus a task's own page. Viewers have no queue (403)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from csplatform.tenancy.models import Membership, Role, User, role_at_least
from csplatform.ui.access import FORM_ERRORS, requires_role
from lifecycle.forms import apply_errors
from work import selectors, services
from work.forms_queue import BulkReassignForm, QueueFilterForm, TaskCreateForm
from work.models import Playbook, Task

WORKERS = [Role.CSM, Role.LEADER, Role.ADMIN]


def is_leader(request) -> bool:
    return role_at_least(request.tenant_role, Role.LEADER)


def can_act(request, task: Task) -> bool:
    return selectors.may_act_on(task, role=request.tenant_role, user_id=request.user.pk)


def members() -> list[User]:
    """People who can do work (csm and up), for pickers; one query."""
    return [
        m.user
        for m in Membership.objects.filter(role__in=WORKERS)
        .select_related("user")
        .order_by("user__full_name", "user__email")
    ]


def queue_user(request) -> User:
    """Whose queue: `?user=<id>` for leaders and admins, oneself otherwise.
    Not a member of this tenant: 404; someone else's for a CSM: 403."""
    raw = request.GET.get("user") or request.POST.get("user") or ""
    if not raw or raw == str(request.user.pk):
        return request.user
    if not raw.isdigit():
        raise Http404("No such member")
    membership = Membership.objects.select_related("user").filter(user_id=int(raw)).first()
    if membership is None:
        raise Http404("No such member")
    if not is_leader(request):
        raise PermissionDenied("Only leaders and admins open another person's queue.")
    return membership.user


def _filters(request, user: User, accounts) -> tuple[QueueFilterForm, selectors.QueueFilters]:
    playbooks = list(Playbook.objects.order_by("name").only("pk", "name"))
    form = QueueFilterForm(request.GET or None, accounts=accounts, playbooks=playbooks)
    chosen = form.cleaned_data if form.is_valid() else {}
    return form, selectors.QueueFilters(
        account_id=chosen.get("account"),
        playbook_id=chosen.get("playbook"),
        priority=chosen.get("priority"),
    )


def queue_url(request, user: User, **params) -> str:
    if user.pk != request.user.pk:
        params = {"user": user.pk, **params}
    base = reverse("work_queue", args=[request.tenant.slug])
    return f"{base}?{urlencode(params)}" if params else base


def render_queue(request, *, status=200, create_form=None, bulk_form=None):
    user = queue_user(request)
    accounts = list(selectors.queue_accounts(user.pk).only("pk", "name"))
    filter_form, filters = _filters(request, user, accounts)
    leader = is_leader(request)
    people = members() if leader else []
    queue = selectors.queue_for(assignee_id=user.pk, filters=filters)
    more_query = {k: v for k, v in request.GET.items() if k in ("account", "playbook", "priority")}
    if user.pk != request.user.pk:
        more_query["user"] = user.pk
    context = {
        "queue": queue,
        "queue_user": user,
        "queue_user_id": user.pk,
        "can_act": True,
        "own_queue": user.pk == request.user.pk,
        "filter_form": filter_form,
        "filtered": any((filters.account_id, filters.playbook_id, filters.priority)),
        "create_form": create_form or TaskCreateForm(accounts=accounts, auto_id="new_task_%s"),
        "bulk_form": bulk_form or (leader and BulkReassignForm(members=people, auto_id="bulk_%s")),
        "members": people,
        "is_leader": leader,
        "today": queue.today,
        "week_end": selectors.week_end(queue.today),
        "more_query": urlencode(more_query),
        "view": "row",
    }
    return render(request, "work/queue/queue.html", context, status=status)


@require_GET
@requires_role(Role.CSM)
def queue_page(request, tenant_slug):
    return render_queue(request)


@require_GET
@requires_role(Role.CSM)
def queue_more(request, tenant_slug):
    """The next rows of one bucket, swapped in place of its "show more" button."""
    user = queue_user(request)
    bucket = request.GET.get("bucket", "")
    offset = request.GET.get("offset", "")
    if bucket not in selectors.BUCKET_KEYS or not offset.isdigit():
        return render(
            request,
            "work/queue/_more.html",
            {"error": "Choose a bucket and a whole-number offset."},
            status=FORM_ERRORS,
        )
    accounts = list(selectors.queue_accounts(user.pk).only("pk", "name"))
    _form, filters = _filters(request, user, accounts)
    rows, has_more = selectors.bucket_rows(
        assignee_id=user.pk, bucket=bucket, offset=int(offset), filters=filters
    )
    query = request.GET.copy()
    query["offset"] = int(offset) + len(rows)
    leader = is_leader(request)
    context = {
        "rows": rows,
        "has_more": has_more,
        "next_query": query.urlencode(),
        "is_leader": leader,
        "members": members() if leader else [],
        "today": timezone.localdate(),
        "queue_user": user,
        "queue_user_id": user.pk,
        "can_act": True,
        "view": "row",
    }
    return render(request, "work/queue/_more.html", context)


@require_POST
@requires_role(Role.CSM)
def task_new(request, tenant_slug):
    """Create a task in the queue shown (one's own; a leader's: anyone's), on
    one of that person's accounts."""
    user = queue_user(request)
    accounts = list(selectors.queue_accounts(user.pk).only("pk", "name", "owner_id"))
    form = TaskCreateForm(request.POST, accounts=accounts, auto_id="new_task_%s")
    if form.is_valid():
        data = form.cleaned_data
        account = next(a for a in accounts if a.pk == data.pop("account"))
        nonce = data.pop("request_key", "")
        try:
            task, created = services.task_create_once(
                request_key=f"page:{request.user.pk}:{nonce}" if nonce else "",
                account=account,
                assignee=user,
                actor=request.user,
                **data,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            if created:
                messages.success(request, f"Added the task “{task.title}”.")
            else:
                messages.info(request, f"“{task.title}” was already added by this form.")
            return redirect(queue_url(request, user))
    return render_queue(request, status=FORM_ERRORS, create_form=form)


@require_POST
@requires_role(Role.LEADER)
def tasks_bulk_reassign(request, tenant_slug):
    user = queue_user(request)
    form = BulkReassignForm(request.POST, members=members(), auto_id="bulk_%s")
    if form.is_valid():
        data = form.cleaned_data
        try:
            moved = services.tasks_reassign(
                task_ids=data["task_ids"], assignee_id=data["assignee"], actor=request.user
            )
        except ValidationError as error:
            form.apply_errors(error)
        else:
            to = next(m for m in members() if m.pk == data["assignee"])
            messages.success(
                request,
                f"Reassigned {len(moved)} task{'s' if len(moved) != 1 else ''} "
                f"to {to.display_name}.",
            )
            return redirect(queue_url(request, user))
    return render_queue(request, status=FORM_ERRORS, bulk_form=form)


def render_task_page(request, task_id: int, *, status=200, forms=None, conflict="", notice=""):
    task = selectors.queue_row(task_id)
    leader = is_leader(request)
    context = {
        "task": task,
        "time_entries": list(selectors.task_time_entries(task)[:200]),
        "history": selectors.task_history(task),
        "can_act": can_act(request, task),
        "is_leader": leader,
        "members": members() if leader else [],
        "forms": forms or {},
        "conflict": conflict,
        "notice": notice,
        "today": timezone.localdate(),
        "view": "detail",
    }
    return render(request, "work/queue/task.html", context, status=status)


@require_GET
@requires_role(Role.CSM)
def task_detail(request, tenant_slug, pk):
    task = get_object_or_404(Task.objects.all(), pk=pk)
    return render_task_page(request, task.pk)

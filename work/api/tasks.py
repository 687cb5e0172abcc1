"""Tasks over the API: list with filters, read, create, edit (a `status`
change goes through the task FSM), transitions, time entries, snooze and
reassignment. Reads need any role, writes csm (reassignment leader). A
signed-in CSM changes only their own tasks and unassigned ones on accounts
they own; an API key acts for the tenant within its role."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from csplatform.api.base import TenantScopedViewSet
from csplatform.api.fields import MemberField, TenantRelatedField
from csplatform.api.model_fields import ID_BOUNDS, model_field
from csplatform.tenancy.models import Role
from lifecycle.api.fields import AccountField
from lifecycle.api.serializers.common import UserRefSerializer
from work import selectors, services
from work.models import TASK_MOVES, Playbook, Priority, Task, TaskStatus, TimeEntry

# target status -> the move that reaches it (each status has one)
ACTION_FOR_STATUS = {m.target: m.name for m in TASK_MOVES}
STATUS_MOVES = ", ".join(f"{'/'.join(m.sources)} → {m.target} {m.name}" for m in TASK_MOVES)


class TaskOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True)
    instructions = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=TaskStatus.choices, read_only=True)
    account = serializers.IntegerField(source="account_id", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    account_stage = serializers.CharField(source="account.stage", read_only=True)
    assignee = UserRefSerializer(read_only=True, allow_null=True)
    due_date = serializers.DateField(read_only=True)
    original_due_date = serializers.DateField(read_only=True)
    priority = serializers.ChoiceField(
        choices=Priority.choices, read_only=True, help_text="1 urgent … 4 low"
    )
    estimated_minutes = serializers.IntegerField(read_only=True)
    logged_minutes = serializers.IntegerField(read_only=True)
    outcome = serializers.CharField(read_only=True)
    required_skill = serializers.CharField(read_only=True)
    playbook = serializers.IntegerField(
        source="run.playbook_id", read_only=True, allow_null=True, default=None
    )
    playbook_name = serializers.CharField(
        source="run.playbook.name", read_only=True, allow_null=True, default=None
    )
    run = serializers.IntegerField(source="run_id", read_only=True, allow_null=True)
    step = serializers.IntegerField(source="step_id", read_only=True, allow_null=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    closed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


_STATUS = "|".join(TaskStatus.values)


class TaskFilterSerializer(serializers.Serializer):
    assignee = serializers.RegexField(
        r"^(me|\d{1,18})$",
        required=False,
        help_text="A user id, or `me` (the signed-in user; not for API keys)",
    )
    status = serializers.RegexField(
        rf"^({_STATUS})(,({_STATUS}))*$",
        error_messages={"invalid": f"Choose from {', '.join(TaskStatus.values)}."},
        required=False,
        help_text="One or more of open, in_progress, done, skipped, cancelled: "
        "comma-separated or repeated",
    )
    account = AccountField(required=False, help_text="Account id")
    playbook = TenantRelatedField(model=Playbook, required=False, help_text="Playbook id")
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    due_before = serializers.DateField(required=False, help_text="Due on or before this date")
    due_after = serializers.DateField(required=False, help_text="Due on or after this date")

    def validate_status(self, value: str) -> list[str]:
        return value.split(",")  # each one of TaskStatus, by the pattern

    def validate_assignee(self, value: str) -> int:
        if value == "me":
            user = self.context["request"].user
            if getattr(user, "pk", None) is None:
                raise serializers.ValidationError("`me` needs a signed-in user, not an API key.")
            return user.pk
        # Another tenant's member reads like no one: a 400, never an empty list.
        if not MemberField().get_queryset().filter(pk=int(value)).exists():
            raise serializers.ValidationError(f"No member of this workspace has id {value}.")
        return int(value)


# Limits (lengths, the estimate's range, the due day's bounds) are the model's.
class TaskCreateInputSerializer(serializers.Serializer):
    account = AccountField()
    title = model_field(Task, "title")
    due_date = model_field(Task, "due_date")
    assignee = MemberField(required=False, allow_null=True, help_text="User id; omit: unassigned")
    priority = model_field(Task, "priority")
    estimated_minutes = model_field(Task, "estimated_minutes")
    instructions = model_field(Task, "instructions")
    required_skill = model_field(Task, "required_skill")


class TaskUpdateInputSerializer(serializers.Serializer):
    title = model_field(Task, "title", required=False)
    instructions = model_field(Task, "instructions")
    due_date = model_field(Task, "due_date", required=False)
    priority = model_field(Task, "priority")
    estimated_minutes = model_field(Task, "estimated_minutes")
    status = serializers.ChoiceField(
        choices=TaskStatus.choices,
        required=False,
        help_text="Moves the task through its FSM; 409 if the move is not allowed",
    )
    outcome = serializers.CharField(
        required=False, allow_blank=True, help_text="Kept with a status change"
    )


class TaskTransitionInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=[(a, a) for a in services.TASK_ACTIONS])
    outcome = serializers.CharField(required=False, allow_blank=True, default="")


class TaskConflictSerializer(serializers.Serializer):
    detail = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True, help_text="The task's status now")


class TaskTimeEntryInputSerializer(serializers.Serializer):
    minutes = model_field(TimeEntry, "minutes")
    note = model_field(TimeEntry, "note")
    logged_on = model_field(
        TimeEntry, "logged_on", required=False, allow_null=True, help_text="Default: today"
    )


class TaskTimeEntryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    task = serializers.IntegerField(source="task_id", read_only=True)
    user = UserRefSerializer(read_only=True, allow_null=True)
    minutes = serializers.IntegerField(read_only=True)
    logged_on = serializers.DateField(read_only=True)
    note = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class TaskSnoozeInputSerializer(serializers.Serializer):
    until = model_field(Task, "due_date", help_text="A day after today")


class TaskReassignInputSerializer(serializers.Serializer):
    task_ids = serializers.ListField(
        child=serializers.IntegerField(**ID_BOUNDS),
        min_length=1,
        max_length=1000,
        help_text="Ids of this tenant's tasks; any other id is a 400 and nothing moves",
    )
    assignee_id = serializers.IntegerField(
        **ID_BOUNDS, help_text="A csm, leader or admin of this tenant"
    )


CONFLICT = OpenApiResponse(
    TaskConflictSerializer, description="The task's status does not allow this move"
)


class TaskViewSet(TenantScopedViewSet):
    """CSM tasks: the unit of work on an account, with an FSM status."""

    model = Task
    serializer_class = TaskOutputSerializer
    write_roles = {"reassign": Role.LEADER}
    input_serializers = {
        "create": TaskCreateInputSerializer,
        "partial_update": TaskUpdateInputSerializer,
        "transition": TaskTransitionInputSerializer,
        "time_entries": TaskTimeEntryInputSerializer,
        "snooze": TaskSnoozeInputSerializer,
        "reassign": TaskReassignInputSerializer,
    }

    def scope(self, queryset):
        return queryset.select_related("account", "assignee", "run__playbook")

    def _task_for_write(self) -> Task:
        task = self.get_object()
        if not selectors.may_act_on(task, role=self.role, user_id=getattr(self.actor, "pk", None)):
            raise exceptions.PermissionDenied(
                "A CSM changes their own tasks and unassigned ones on accounts they own."
            )
        return task

    def _task_response(self, task_id: int, code=status.HTTP_200_OK) -> Response:
        return Response(TaskOutputSerializer(self.get_queryset().get(pk=task_id)).data, status=code)

    @extend_schema(parameters=[TaskFilterSerializer], responses=TaskOutputSerializer(many=True))
    def list(self, request):
        query = request.query_params.copy()
        statuses = [s for v in query.getlist("status") for s in v.split(",") if s]
        if statuses:
            query["status"] = ",".join(statuses)
        f = TaskFilterSerializer(data=query.dict(), context={"request": request})
        f.is_valid(raise_exception=True)
        data = f.validated_data
        qs = self.get_queryset()
        if "assignee" in data:
            qs = qs.filter(assignee_id=data["assignee"])
        if data.get("status"):
            qs = qs.filter(status__in=data["status"])
        if data.get("account"):
            qs = qs.filter(account=data["account"])
        if data.get("playbook"):
            qs = qs.filter(run__playbook=data["playbook"])
        if data.get("priority"):
            qs = qs.filter(priority=data["priority"])
        if data.get("due_before"):
            qs = qs.filter(due_date__lte=data["due_before"])
        if data.get("due_after"):
            qs = qs.filter(due_date__gte=data["due_after"])
        return self.paginated(qs.order_by("due_date", "priority", "id"), TaskOutputSerializer)

    @extend_schema(responses=TaskOutputSerializer)
    def retrieve(self, request, pk=None):
        return Response(TaskOutputSerializer(self.get_object()).data)

    @extend_schema(
        request=TaskCreateInputSerializer,
        responses={201: TaskOutputSerializer, 200: TaskOutputSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Any unique string per task you mean to create (up to 100 "
                "characters). A retry with the same key creates nothing and answers 200 "
                "with the task the first request created.",
            )
        ],
    )
    def create(self, request):
        data = TaskCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        user_id = getattr(self.actor, "pk", None)
        probe = Task(account=values["account"], assignee=values.get("assignee"))
        if not selectors.may_act_on(probe, role=self.role, user_id=user_id):
            raise exceptions.PermissionDenied(
                "A CSM creates tasks for themselves, or unassigned ones on accounts they own."
            )
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 100 or "\x00" in key:
            raise exceptions.ValidationError(
                {"Idempotency-Key": ["Use at most 100 characters, without NUL."]}
            )
        # Scoped to the caller, so two integrations cannot collide.
        caller = f"user:{user_id}" if user_id else f"key:{request.auth.pk}"
        task, created = services.task_create_once(
            request_key=f"api:{caller}:{key}" if key else "", actor=self.actor, **values
        )
        return self._task_response(
            task.pk, status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(
        request=TaskUpdateInputSerializer,
        responses={200: TaskOutputSerializer, 409: CONFLICT},
        description="Edit the task. A `status` different from the current one moves the "
        f"task ({STATUS_MOVES}); the same status changes nothing.",
    )
    def partial_update(self, request, pk=None):
        task = self._task_for_write()
        data = TaskUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        target = values.pop("status", None)
        outcome = values.pop("outcome", None)
        # One savepoint: a refused status move (409) keeps the edits out too.
        with transaction.atomic():
            if values:
                task = services.task_update(task=task, actor=self.actor, **values)
            if target is not None and target != task.status:
                services.task_transition(
                    task=task,
                    action=ACTION_FOR_STATUS[target],
                    actor=self.actor,
                    outcome=outcome or "",
                )
            elif outcome:
                services.task_outcome_set(task=task, outcome=outcome, actor=self.actor)
        return self._task_response(task.pk)

    @extend_schema(
        summary=f"Move the task: {', '.join(services.TASK_ACTIONS)}",
        request=TaskTransitionInputSerializer,
        responses={200: TaskOutputSerializer, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        task = self._task_for_write()
        data = TaskTransitionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.task_transition(task=task, actor=self.actor, **data.validated_data)
        return self._task_response(task.pk)

    @extend_schema(
        methods=["GET"],
        summary="The task's time entries, oldest first",
        responses=TaskTimeEntryOutputSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Log time on the task",
        request=TaskTimeEntryInputSerializer,
        responses={201: TaskTimeEntryOutputSerializer},
    )
    @action(detail=True, methods=["get", "post"], url_path="time-entries")
    def time_entries(self, request, pk=None):
        if request.method == "GET":
            task = self.get_object()
            entries = TimeEntry.objects.filter(task=task).select_related("user")
            return self.paginated(
                entries.order_by("logged_on", "id"), TaskTimeEntryOutputSerializer
            )
        task = self._task_for_write()
        data = TaskTimeEntryInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.task_time_log(task=task, actor=self.actor, **data.validated_data)
        return Response(TaskTimeEntryOutputSerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Move an open task's due date to a later day",
        request=TaskSnoozeInputSerializer,
        responses=TaskOutputSerializer,
    )
    @action(detail=True, methods=["post"])
    def snooze(self, request, pk=None):
        task = self._task_for_write()
        data = TaskSnoozeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.task_snooze(task=task, actor=self.actor, **data.validated_data)
        return self._task_response(task.pk)

    @extend_schema(
        summary="Give open tasks to another person (leaders and admins)",
        description="Closed tasks and tasks already theirs stay as they are; the answer "
        "lists the ids that moved. An id that is not a task of this tenant is a 400 on "
        "`task_ids` naming it, and nothing moves.",
        request=TaskReassignInputSerializer,
        responses=inline_serializer(
            "TaskReassignOutput",
            {"reassigned": serializers.ListField(child=serializers.IntegerField())},
        ),
    )
    @action(detail=False, methods=["post"])
    def reassign(self, request):
        data = TaskReassignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        moved = services.tasks_reassign(
            task_ids=data.validated_data["task_ids"],
            assignee_id=data.validated_data["assignee_id"],
            actor=self.actor,
        )
        return Response({"reassigned": [t.pk for t in moved]})

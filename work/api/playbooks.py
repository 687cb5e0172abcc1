"""Playbooks over the API: list and read them with their steps, create and
edit them (leaders and admins), edit steps through the `steps/` sub-resource,
and start one on an account (csm and up).

Starting is idempotent per `occurrence_key`: the first call answers 201 with
the run and its tasks, a repeat with the same key 200 with the same run and
nothing created. Give your own key (the id of whatever made you start it) so
a retried request cannot start twice; without one each call gets a new key.
"""

from __future__ import annotations

import uuid

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from csplatform.api.base import ID_PATTERN, TenantScopedViewSet
from csplatform.api.model_fields import ID_BOUNDS, model_field
from csplatform.tenancy.models import Role
from lifecycle.api.fields import AccountField
from lifecycle.api.serializers.common import ErrorSerializer
from lifecycle.models import Stage
from work import selectors, services
from work.models import AssigneeRule, Playbook, PlaybookRun, PlaybookStep, Priority, TaskStatus

STEP_ID = OpenApiParameter(
    "step_id", str, OpenApiParameter.PATH, pattern=f"^{ID_PATTERN}$", description="The step's id"
)


class StepOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    position = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True)
    instructions = serializers.CharField(read_only=True)
    required_skill = serializers.CharField(read_only=True, help_text="Skill key; empty: anyone")
    estimated_minutes = serializers.IntegerField(read_only=True)
    due_offset_days = serializers.IntegerField(
        read_only=True, help_text="Days after the task is created"
    )
    priority = serializers.ChoiceField(
        choices=Priority.choices, read_only=True, help_text="1 urgent ... 4 low"
    )
    assignee_rule = serializers.ChoiceField(choices=AssigneeRule.choices, read_only=True)
    assignee_user = serializers.IntegerField(
        source="assignee_user_id", read_only=True, allow_null=True
    )
    assignee_group = serializers.IntegerField(
        source="assignee_group_id", read_only=True, allow_null=True
    )
    depends_on = serializers.IntegerField(
        source="depends_on_id",
        read_only=True,
        allow_null=True,
        help_text="The earlier step whose task must be done before this one is created",
    )


class PlaybookOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    key = serializers.CharField(read_only=True, help_text="Set on the seeded defaults")
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    stage = serializers.CharField(read_only=True, help_text="Empty: a situation, not a stage")
    is_active = serializers.BooleanField(read_only=True)
    step_count = serializers.IntegerField(read_only=True)
    active_runs = serializers.IntegerField(read_only=True)
    steps = StepOutputSerializer(many=True, read_only=True, source="steps.all")


# Lengths, ranges and choices come from the models (work.models.limits).
class PlaybookInputSerializer(serializers.Serializer):
    name = model_field(Playbook, "name")
    description = model_field(Playbook, "description")
    stage = serializers.ChoiceField(
        choices=Stage.choices, required=False, allow_blank=True, help_text="Empty: a situation"
    )
    is_active = serializers.BooleanField(required=False)


class StepInputSerializer(serializers.Serializer):
    title = model_field(PlaybookStep, "title")
    instructions = model_field(PlaybookStep, "instructions")
    required_skill = model_field(
        PlaybookStep, "required_skill", help_text="Skill key; empty: anyone"
    )
    estimated_minutes = model_field(PlaybookStep, "estimated_minutes")
    due_offset_days = model_field(PlaybookStep, "due_offset_days")
    priority = model_field(PlaybookStep, "priority")
    assignee_rule = model_field(PlaybookStep, "assignee_rule")
    assignee_user = serializers.IntegerField(
        **ID_BOUNDS,
        required=False,
        allow_null=True,
        help_text="User id; required for the `user` rule",
    )
    assignee_group = serializers.IntegerField(
        **ID_BOUNDS,
        required=False,
        allow_null=True,
        help_text="Group id; required for `round_robin`",
    )
    depends_on = serializers.IntegerField(
        **ID_BOUNDS,
        required=False,
        allow_null=True,
        help_text="Id of an earlier step of this playbook",
    )
    position = model_field(PlaybookStep, "position", help_text="Default: after the last step")


class StartInputSerializer(serializers.Serializer):
    account_id = AccountField(help_text="The account to start the playbook on")
    occurrence_key = model_field(
        PlaybookRun,
        "occurrence_key",
        required=False,
        help_text="What this start is for (e.g. your event id). Starting again with the same "
        "key creates nothing. Omitted: a new key per request, so a retry would start twice.",
    )
    reason = model_field(PlaybookRun, "reason")


class RunTaskSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    step = serializers.IntegerField(source="step_id", read_only=True, allow_null=True)
    title = serializers.CharField(read_only=True)
    assignee = serializers.IntegerField(source="assignee_id", read_only=True, allow_null=True)
    due_date = serializers.DateField(read_only=True)
    priority = serializers.IntegerField(read_only=True)
    estimated_minutes = serializers.IntegerField(read_only=True)
    status = serializers.CharField(
        read_only=True, help_text=f"One of {', '.join(TaskStatus.values)}"
    )


class RunOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    playbook = serializers.IntegerField(source="playbook_id", read_only=True)
    account = serializers.IntegerField(source="account_id", read_only=True)
    occurrence_key = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    reason = serializers.CharField(read_only=True)
    started_by = serializers.IntegerField(source="started_by_id", read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    tasks = RunTaskSerializer(many=True, read_only=True, source="tasks.all")


def _step_fields(data: dict, step: PlaybookStep | None) -> dict:
    """Everything playbook_step_save takes: the request's fields over the
    step as stored (or the model's defaults for a new one, placed last)."""
    if step is not None:
        current = selectors.step_values(step)
    else:
        current = {**selectors.step_values(PlaybookStep()), "position": None}
    merged = {**current, **data}
    merged["assignee_user_id"] = merged.pop("assignee_user")
    merged["assignee_group_id"] = merged.pop("assignee_group")
    merged["depends_on_id"] = merged.pop("depends_on")
    return merged


class PlaybookViewSet(mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Playbooks with their ordered steps. Leaders and admins create and edit
    them; csm and up start them on accounts; viewers read."""

    model = Playbook
    serializer_class = PlaybookOutputSerializer
    write_role = Role.LEADER
    write_roles = {"start": Role.CSM}
    input_serializers = {
        "create": PlaybookInputSerializer,
        "update": PlaybookInputSerializer,
        "partial_update": PlaybookInputSerializer,
        "steps": StepInputSerializer,
        "step_update": StepInputSerializer,
        "start": StartInputSerializer,
    }

    def scope(self, queryset):
        return selectors.playbook_list_with_steps()

    def _render(self, playbook: Playbook, code=status.HTTP_200_OK) -> Response:
        fresh = selectors.playbook_list_with_steps().get(pk=playbook.pk)
        return Response(PlaybookOutputSerializer(fresh).data, status=code)

    @extend_schema(responses=PlaybookOutputSerializer(many=True))
    def list(self, request):
        return self.paginated(selectors.playbook_list_with_steps(), PlaybookOutputSerializer)

    @extend_schema(
        request=PlaybookInputSerializer,
        responses={201: PlaybookOutputSerializer, 400: OpenApiResponse(ErrorSerializer)},
    )
    def create(self, request):
        data = PlaybookInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        playbook = services.playbook_save(actor=self.actor, **data.validated_data)
        return self._render(playbook, status.HTTP_201_CREATED)

    @extend_schema(request=PlaybookInputSerializer, responses=PlaybookOutputSerializer)
    def update(self, request, pk=None, partial=False):
        playbook = self.get_object()
        data = PlaybookInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        current = {
            "name": playbook.name,
            "description": playbook.description,
            "stage": playbook.stage,
            "is_active": playbook.is_active,
        }
        services.playbook_save(
            playbook=playbook, actor=self.actor, **{**current, **data.validated_data}
        )
        return self._render(playbook)

    @extend_schema(request=PlaybookInputSerializer, responses=PlaybookOutputSerializer)
    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    @extend_schema(
        summary="Delete a playbook; one that has runs is switched off instead",
        responses={
            204: OpenApiResponse(description="Deleted"),
            200: OpenApiResponse(
                PlaybookOutputSerializer, description="It has runs: switched off (is_active false)"
            ),
        },
    )
    def destroy(self, request, pk=None):
        playbook = self.get_object()
        if services.playbook_delete(playbook=playbook):
            return Response(status=status.HTTP_204_NO_CONTENT)
        return self._render(playbook)

    @extend_schema(
        summary="Add a step (at the end unless `position` is given)",
        request=StepInputSerializer,
        responses={201: StepOutputSerializer, 400: OpenApiResponse(ErrorSerializer)},
    )
    @action(detail=True, methods=["post"])
    def steps(self, request, pk=None):
        playbook = self.get_object()
        data = StepInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        step = services.playbook_step_save(
            playbook=playbook, actor=self.actor, **_step_fields(data.validated_data, None)
        )
        return Response(StepOutputSerializer(step).data, status=status.HTTP_201_CREATED)

    def _step(self, playbook: Playbook, step_id) -> PlaybookStep:
        step = PlaybookStep.objects.filter(playbook=playbook, pk=step_id).first()
        if step is None:
            raise NotFound("No such step in this playbook.")
        return step

    @extend_schema(
        summary="Edit a step; only the fields given change",
        parameters=[STEP_ID],
        request=StepInputSerializer,
        responses={200: StepOutputSerializer, 400: OpenApiResponse(ErrorSerializer)},
    )
    @action(detail=True, methods=["patch"], url_path=rf"steps/(?P<step_id>{ID_PATTERN})")
    def step_update(self, request, pk=None, step_id=None):
        playbook = self.get_object()
        step = self._step(playbook, step_id)
        data = StepInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        step = services.playbook_step_save(
            playbook=playbook,
            step=step,
            actor=self.actor,
            **_step_fields(data.validated_data, step),
        )
        return Response(StepOutputSerializer(step).data)

    @extend_schema(
        summary="Remove a step; steps that waited for it wait for what it waited for",
        parameters=[STEP_ID],
        request=None,
        responses={204: OpenApiResponse(description="Removed")},
    )
    @step_update.mapping.delete
    def step_delete(self, request, pk=None, step_id=None):
        playbook = self.get_object()
        services.playbook_step_delete(step=self._step(playbook, step_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Start the playbook on an account (once per occurrence_key)",
        description="201 with the new run and the tasks it created; 200 with the existing "
        "run when this occurrence already started (nothing created). Give your own "
        "`occurrence_key` so that a retried request cannot start twice.",
        request=StartInputSerializer,
        responses={
            201: OpenApiResponse(RunOutputSerializer, description="Started"),
            200: OpenApiResponse(RunOutputSerializer, description="Already started"),
            400: OpenApiResponse(ErrorSerializer),
        },
    )
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        playbook = self.get_object()
        data = StartInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = data.validated_data.get("occurrence_key") or f"api:{uuid.uuid4().hex}"
        run, created = services.playbook_start(
            playbook=playbook,
            account=data.validated_data["account_id"],
            occurrence_key=key,
            actor=self.actor,
            reason=data.validated_data.get("reason", ""),
        )
        run = selectors.run_with_tasks(run_id=run.pk)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(RunOutputSerializer(run).data, status=code)

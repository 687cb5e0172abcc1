"""Automation rules over the API: CRUD with the actions nested, the run log
of each rule, and retrying a failed action. CSMs and up read; leaders and
admins write; viewers get 403.

Bad input answers 400 with messages keyed by field: `name`,
`trigger_config.<setting>`, `conditions.<i>.<part>`,
`actions.<i>.config.<setting>`. Ids inside configs (a playbook, a segment,
an owner) must belong to the workspace. A webhook's secret is write-only:
it reads back as "********", and an update that leaves it out (or sends
the mask) keeps it. A webhook saved without one gets a `whsec_` secret,
shown in full in the answer to that save only.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from csplatform.api import strict
from csplatform.api.base import ID_PATTERN, TenantScopedViewSet
from csplatform.api.model_fields import model_field
from csplatform.tenancy.models import Role
from work import selectors
from work.models import ActionRun, ActionStatus, FiringStatus, Rule, Trigger
from work.rules.actions import SECRET_MASK, action_kinds
from work.rules.conditions import KINDS
from work.rules.triggers import trigger_config_help, trigger_summary
from work.services import rules as services


def _conditions_help() -> str:
    # From the condition kinds themselves (work.rules.conditions).
    fields = "; ".join(
        f"{name}{' (with key)' if kind.has_key else ''}: {'|'.join(kind.ops)}"
        for name, kind in KINDS.items()
    )
    return (
        "All must hold. Each: {field, op, value} (and key for an attribute). " + fields + ". "
        "segment: a segment id; tier, stage: a list; owner: a list of member user ids; "
        "arr: an amount, or [min, max] for between. Ids must be this workspace's."
    )


def _actions_help() -> str:
    # From each registered action kind's settings form (work.rules.actions).
    return "; ".join(
        f"{kind} {action.settings.settings_help()}" for kind, action in action_kinds().items()
    )


class StoredDictField(serializers.DictField):
    """A stored JSON object read back; anything else stored there (a rule
    changed in the database) reads as {}, and the rule's `problem` says why
    it cannot run, so the response still matches its schema."""

    def to_representation(self, value):
        return super().to_representation(value if isinstance(value, dict) else {})


class StoredListField(serializers.ListField):
    def to_representation(self, data):
        items = data if isinstance(data, list) else []
        return super().to_representation([item for item in items if isinstance(item, dict)])


class RuleActionSerializer(serializers.Serializer):
    kind = serializers.CharField(
        help_text="An action kind: " + ", ".join(action_kinds()) + ", or one another app registers"
    )
    config = StoredDictField(required=False, help_text=_actions_help())

    def to_representation(self, instance):
        data = super().to_representation(instance)
        revealed = self.context.get("new_secrets", {})
        if (
            instance.kind == "webhook"
            and data["config"].get("secret")
            and getattr(instance, "position", None) not in revealed
        ):
            data["config"] = {**data["config"], "secret": SECRET_MASK}
        return data


class RuleOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    is_active = serializers.BooleanField(read_only=True)
    trigger = serializers.ChoiceField(choices=Trigger.choices, read_only=True)
    trigger_config = StoredDictField(read_only=True)
    trigger_summary = serializers.SerializerMethodField()
    conditions = StoredListField(child=serializers.DictField(), read_only=True)
    cooldown_hours = serializers.IntegerField(read_only=True)
    actions = RuleActionSerializer(many=True, read_only=True, source="actions.all")
    problem = serializers.CharField(
        read_only=True, help_text="Why the rule could not run the last time; empty if it runs"
    )
    problem_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_fired_at = serializers.DateTimeField(read_only=True, allow_null=True)
    fired_recently = serializers.IntegerField(read_only=True, help_text="Firings in 7 days")
    failed_recently = serializers.IntegerField(
        read_only=True, help_text="Firings in 7 days with a failed action"
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_trigger_summary(self, rule) -> str:
        return trigger_summary(rule.trigger, rule.trigger_config)


class RuleInputSerializer(serializers.Serializer):
    # The rule's own limits are the model's; each part's, its declaration's.
    name = model_field(Rule, "name")
    description = model_field(Rule, "description", default="")
    is_active = serializers.BooleanField(required=False, default=True)
    trigger = model_field(Rule, "trigger")
    trigger_config = serializers.DictField(
        required=False, default=dict, help_text=trigger_config_help()
    )
    conditions = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        default=list,
        max_length=services.MAX_CONDITIONS,
        help_text=_conditions_help(),
    )
    cooldown_hours = model_field(Rule, "cooldown_hours", default=0)
    actions = RuleActionSerializer(many=True, help_text="Run in order; at least one")

    def validate(self, attrs):
        """Every part checked by the service's rules, errors keyed by field."""
        _clean, errors = services.rule_validate(
            rule=self.context.get("rule"),
            name=attrs["name"],
            trigger=attrs["trigger"],
            trigger_config=attrs.get("trigger_config"),
            conditions=attrs.get("conditions"),
            actions=attrs["actions"],
            cooldown_hours=attrs.get("cooldown_hours"),
            description=attrs.get("description"),
        )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class ActionRunSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    position = serializers.IntegerField(read_only=True)
    kind = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=ActionStatus.choices, read_only=True)
    attempts = serializers.IntegerField(read_only=True)
    next_attempt_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_error = serializers.CharField(read_only=True)
    result = serializers.DictField(read_only=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)


class FiringSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    account = serializers.IntegerField(source="account_id", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    occurrence_key = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=FiringStatus.choices, read_only=True)
    detail = serializers.DictField(
        read_only=True, help_text="trigger, payload, and why it was skipped"
    )
    created_at = serializers.DateTimeField(read_only=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    action_runs = ActionRunSerializer(many=True, read_only=True, source="action_runs.all")


def _current(rule: Rule) -> dict:
    return {
        "name": rule.name,
        "description": rule.description,
        "is_active": rule.is_active,
        "trigger": rule.trigger,
        "trigger_config": rule.trigger_config,
        "conditions": rule.conditions,
        "cooldown_hours": rule.cooldown_hours,
        "actions": [{"kind": a.kind, "config": a.config} for a in rule.actions.all()],
    }


class RuleViewSet(TenantScopedViewSet):
    """Automation rules: trigger, conditions, actions; and each rule's run log."""

    model = Rule
    serializer_class = RuleOutputSerializer
    read_role = Role.CSM
    write_role = Role.LEADER
    input_serializers = {
        "create": RuleInputSerializer,
        "update": RuleInputSerializer,
        "partial_update": RuleInputSerializer,
    }

    def scope(self, queryset):
        return selectors.rule_list()

    def _out(self, rule: Rule, code=status.HTTP_200_OK) -> Response:
        # A webhook secret this save generated is shown in this answer only.
        context = {"new_secrets": getattr(rule, "new_secrets", {})}
        saved = self.get_queryset().get(pk=rule.pk)
        return Response(RuleOutputSerializer(saved, context=context).data, status=code)

    @extend_schema(responses=RuleOutputSerializer(many=True))
    def list(self, request):
        return self.paginated(self.get_queryset(), RuleOutputSerializer)

    @extend_schema(responses=RuleOutputSerializer)
    def retrieve(self, request, pk=None):
        return Response(RuleOutputSerializer(self.get_object()).data)

    @extend_schema(request=RuleInputSerializer, responses={201: RuleOutputSerializer})
    def create(self, request):
        data = RuleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = services.rule_save(actor=self.actor, **data.validated_data)
        return self._out(rule, status.HTTP_201_CREATED)

    @extend_schema(request=RuleInputSerializer, responses=RuleOutputSerializer)
    def update(self, request, pk=None, partial=False):
        rule = self.get_object()
        if not isinstance(request.data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Send a JSON object."]})
        # The merged body is still the client's JSON, read as strictly.
        merged = strict.mark({**_current(rule), **request.data}) if partial else request.data
        data = RuleInputSerializer(data=merged, context={"rule": rule})
        data.is_valid(raise_exception=True)
        rule = services.rule_save(rule=rule, actor=self.actor, **data.validated_data)
        return self._out(rule)

    @extend_schema(
        request=RuleInputSerializer,
        responses=RuleOutputSerializer,
        description="Change some parts; actions, when given, replace the rule's actions.",
    )
    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        services.rule_delete(rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="The rule's run log, newest first",
        responses=FiringSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def firings(self, request, pk=None):
        rule = self.get_object()
        return self.paginated(selectors.rule_firings(rule), FiringSerializer)

    @extend_schema(
        summary="Retry a failed action now",
        request=None,
        parameters=[
            OpenApiParameter("run_id", str, OpenApiParameter.PATH, pattern=f"^{ID_PATTERN}$")
        ],
        responses={200: ActionRunSerializer, 400: OpenApiResponse(description="Not retryable")},
    )
    @action(detail=True, methods=["post"], url_path=rf"action-runs/(?P<run_id>{ID_PATTERN})/retry")
    def retry(self, request, pk=None, run_id=None):
        rule = self.get_object()
        run = get_object_or_404(ActionRun.objects.all(), pk=run_id, firing__rule_id=rule.pk)
        run = services.action_run_retry(action_run=run)
        return Response(ActionRunSerializer(run).data)

"""GET /api/v1/capacity/: the capacity page's figures as JSON, for leaders
(load against capacity per CSM and for the team over six ISO weeks, the last
four weeks, estimate accuracy per playbook step, the rebalance suggestion).
Definitions in work.selectors.capacity."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from csplatform.api.base import TenantAPIView
from csplatform.tenancy.models import Role
from work import selectors

HOURS = {"max_digits": 9, "decimal_places": 1, "read_only": True}


class WeekLoadSerializer(serializers.Serializer):
    week_start = serializers.DateField(read_only=True, help_text="Monday of the ISO week")
    capacity_hours = serializers.DecimalField(**HOURS)
    tasks = serializers.IntegerField(read_only=True, help_text="Open tasks due that week")
    task_minutes = serializers.IntegerField(read_only=True)
    unplanned_hours = serializers.DecimalField(**HOURS)
    load_hours = serializers.DecimalField(**HOURS, help_text="Task hours + unplanned share")
    free_hours = serializers.DecimalField(**HOURS, help_text="Negative when over")
    utilization = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Load / capacity in %; null: no capacity"
    )
    over = serializers.BooleanField(read_only=True)
    days_out = serializers.IntegerField(read_only=True, help_text="Weekdays out of office")


class PastWeekSerializer(serializers.Serializer):
    week_start = serializers.DateField(read_only=True)
    planned_tasks = serializers.IntegerField(read_only=True)
    planned_minutes = serializers.IntegerField(read_only=True)
    completed_tasks = serializers.IntegerField(read_only=True)
    completed_minutes = serializers.IntegerField(read_only=True)
    logged_minutes = serializers.IntegerField(read_only=True)


class MemberSerializer(serializers.Serializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    name = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    role = serializers.CharField(read_only=True)
    has_profile = serializers.BooleanField(read_only=True)
    weekly_capacity_hours = serializers.DecimalField(max_digits=5, decimal_places=1, read_only=True)
    skills = serializers.ListField(child=serializers.CharField(), read_only=True)
    takes_assignments = serializers.BooleanField(read_only=True)
    overdue = serializers.IntegerField(read_only=True)
    weeks = WeekLoadSerializer(many=True, read_only=True)
    past = PastWeekSerializer(many=True, read_only=True)


class StepAccuracySerializer(serializers.Serializer):
    step = serializers.IntegerField(source="step_id", read_only=True)
    playbook = serializers.IntegerField(source="playbook_id", read_only=True)
    playbook_name = serializers.CharField(read_only=True)
    step_title = serializers.CharField(read_only=True)
    samples = serializers.IntegerField(read_only=True)
    median_ratio = serializers.FloatField(read_only=True, help_text="Median logged / estimated")
    median_actual_minutes = serializers.FloatField(read_only=True)
    current_estimate = serializers.IntegerField(read_only=True)
    suggested_estimate = serializers.IntegerField(read_only=True)
    reliable = serializers.BooleanField(read_only=True, help_text="At least 3 samples")


class SuggestionSerializer(serializers.Serializer):
    task = serializers.IntegerField(source="task_id", read_only=True)
    task_title = serializers.CharField(read_only=True)
    account = serializers.IntegerField(source="account_id", read_only=True)
    account_name = serializers.CharField(read_only=True)
    priority = serializers.IntegerField(read_only=True)
    due_date = serializers.DateField(read_only=True)
    week_start = serializers.DateField(read_only=True)
    minutes = serializers.IntegerField(read_only=True)
    from_user = serializers.IntegerField(source="from_user_id", read_only=True)
    to_user = serializers.IntegerField(source="to_user_id", read_only=True)


class CapacitySerializer(serializers.Serializer):
    today = serializers.DateField(read_only=True)
    weeks = serializers.ListField(child=serializers.DateField(), read_only=True)
    past_weeks = serializers.ListField(child=serializers.DateField(), read_only=True)
    unplanned_share_percent = serializers.IntegerField(read_only=True)
    overdue = serializers.IntegerField(read_only=True)
    members = MemberSerializer(many=True, read_only=True)
    team = WeekLoadSerializer(many=True, read_only=True)
    team_past = PastWeekSerializer(many=True, read_only=True)
    accuracy = StepAccuracySerializer(many=True, read_only=True)
    suggestions = SuggestionSerializer(many=True, read_only=True)


class CapacityView(TenantAPIView):
    read_role = Role.LEADER
    write_role = Role.LEADER

    @extend_schema(
        summary="Load against capacity per CSM for six weeks, accuracy and rebalance",
        responses=CapacitySerializer,
    )
    def get(self, request):
        return Response(CapacitySerializer(selectors.capacity_report()).data)

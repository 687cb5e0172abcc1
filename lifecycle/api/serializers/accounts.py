from __future__ import annotations

from rest_framework import serializers

from csplatform.api.fields import MemberEmailField, MemberField
from lifecycle.api.serializers.common import UserRefSerializer, no_nul_characters
from lifecycle.models import Stage, Tier


class AccountOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    external_id = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    owner = UserRefSerializer(read_only=True, allow_null=True)
    tier = serializers.ChoiceField(choices=Tier.choices, read_only=True)
    industry = serializers.CharField(read_only=True)
    attributes = serializers.DictField(read_only=True)
    stage = serializers.ChoiceField(choices=Stage.choices, read_only=True)
    stage_entered_at = serializers.DateTimeField(read_only=True)
    is_escalated = serializers.BooleanField(read_only=True)
    arr = serializers.DecimalField(
        max_digits=14, decimal_places=2, read_only=True, help_text="Sum of active contracts"
    )
    next_renewal = serializers.DateField(
        read_only=True, allow_null=True, help_text="Earliest upcoming renewal of an active contract"
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class TransitionTargetSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices, read_only=True)
    label = serializers.CharField(read_only=True)
    transition = serializers.CharField(read_only=True)
    guarded = serializers.BooleanField(
        read_only=True, help_text="Needs the current stage's achievements"
    )
    ready = serializers.BooleanField(read_only=True, help_text="Allowed now without forcing")
    missing = serializers.ListField(child=serializers.CharField(), read_only=True)
    forward = serializers.BooleanField(read_only=True)


class AccountDetailOutputSerializer(AccountOutputSerializer):
    allowed_transitions = TransitionTargetSerializer(many=True, read_only=True)


class AccountUpsertInputSerializer(serializers.Serializer):
    """Fields a CRM sync sends; `owner` by id or `owner_email`."""

    name = serializers.CharField(max_length=200)
    owner = MemberField(required=False, allow_null=True)
    owner_email = MemberEmailField(required=False, allow_null=True, write_only=True)
    tier = serializers.ChoiceField(choices=Tier.choices, required=False)
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True)
    attributes = serializers.DictField(required=False, validators=[no_nul_characters])

    def validate(self, attrs):
        if "owner_email" in attrs:
            if "owner" in attrs and attrs["owner"] != attrs["owner_email"]:
                raise serializers.ValidationError(
                    {"owner_email": ["Names a different user than `owner`."]}
                )
            attrs["owner"] = attrs.pop("owner_email")
        return attrs


class AccountInputSerializer(AccountUpsertInputSerializer):
    external_id = serializers.CharField(max_length=100, required=False, allow_blank=True)


class AccountCreateInputSerializer(AccountInputSerializer):
    stage = serializers.ChoiceField(
        choices=Stage.choices, required=False, help_text="Initial stage (default onboarding)"
    )

"""Forms of the lifecycle pages. They check the shape of input; the services
check the rules, and their ValidationErrors land on these forms' fields."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from csplatform.tenancy.models import Membership, User
from lifecycle.models import (
    NOTE_MAX_LENGTH,
    ContactRole,
    ContractStatus,
    NoteKind,
    Segment,
    Stage,
    Tier,
)


def tenant_members():
    """Users with a membership in the tenant in context."""
    return User.objects.filter(pk__in=Membership.objects.values("user_id")).order_by(
        "full_name", "email"
    )


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.display_name


def apply_errors(form: forms.Form, error: ValidationError) -> forms.Form:
    """Put a service's ValidationError on the form's fields (or the form)."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)
    return form


def _blank(choices, label: str):
    return [("", label), *choices]


class AccountFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        label="Search",
        widget=forms.SearchInput(attrs={"placeholder": "Name or external id"}),
    )
    stage = forms.ChoiceField(required=False, choices=_blank(Stage.choices, "Any stage"))
    owner = MemberChoiceField(queryset=User.objects.none(), required=False, empty_label="Anyone")
    # Real querysets are set per request: the tenant-scoped manager needs a tenant.
    segment = forms.ModelChoiceField(
        queryset=Segment.all_tenants.none(), required=False, empty_label="Any segment"
    )
    tier = forms.ChoiceField(required=False, choices=_blank(Tier.choices, "Any tier"))
    escalated = forms.ChoiceField(
        required=False,
        label="Escalation",
        choices=[("", "Any"), ("yes", "Escalated"), ("no", "Not escalated")],
    )

    def __init__(self, *args, owners, segments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owners
        self.fields["segment"].queryset = segments

    def filters(self) -> dict:
        """Arguments for selectors.account_list from the valid fields; a bad
        value in one field (shown as an error) does not drop the others."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = self.cleaned_data
        escalated = {"yes": True, "no": False}.get(data.get("escalated") or "")
        owner = data.get("owner")
        return {
            "search": (data.get("q") or "").strip(),
            "stage": data.get("stage") or "",
            "owner_id": owner.pk if owner else None,
            "segment": data.get("segment"),
            "tier": data.get("tier") or "",
            "escalated": escalated,
        }


class AccountForm(forms.Form):
    name = forms.CharField(max_length=200)
    external_id = forms.CharField(
        max_length=100, required=False, label="External id", help_text="The id in your CRM."
    )
    owner = MemberChoiceField(queryset=User.objects.none(), required=False, empty_label="Nobody")
    tier = forms.ChoiceField(choices=Tier.choices, initial=Tier.MID_MARKET)
    industry = forms.CharField(max_length=100, required=False)

    def __init__(self, *args, owners, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owners
        if editing:
            # The external id belongs to the CRM sync; the page edits the rest.
            del self.fields["external_id"]


class TransitionForm(forms.Form):
    to_stage = forms.ChoiceField(choices=Stage.choices)
    expected_stage = forms.ChoiceField(choices=Stage.choices)
    force = forms.BooleanField(required=False)
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class AchievementToggleForm(forms.Form):
    done = forms.BooleanField(required=False)


class NoteForm(forms.Form):
    kind = forms.ChoiceField(
        label="What", choices=NoteKind.choices, initial=NoteKind.NOTE, required=False
    )
    body = forms.CharField(
        label="Note",
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "placeholder": "What happened? First line is the title.",
                "maxlength": NOTE_MAX_LENGTH,
            }
        ),
    )


class ContactForm(forms.Form):
    name = forms.CharField(max_length=200)
    email = forms.EmailField()
    title = forms.CharField(max_length=200, required=False)
    role = forms.ChoiceField(choices=ContactRole.choices, initial=ContactRole.END_USER)


class ContractForm(forms.Form):
    arr = forms.DecimalField(label="ARR", min_value=0, max_digits=14, decimal_places=2)
    seats = forms.IntegerField(min_value=0, initial=0)
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    renewal_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(choices=ContractStatus.choices, initial=ContractStatus.ACTIVE)


class EscalationOpenForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class EscalationResolveForm(forms.Form):
    resolution = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class StageAchievementForm(forms.Form):
    stage = forms.ChoiceField(choices=Stage.choices)
    title = forms.CharField(max_length=200)
    key = forms.SlugField(
        max_length=60, help_text="Short stable id used by the API, e.g. kickoff_held."
    )
    required = forms.BooleanField(
        required=False, initial=True, help_text="Required items gate the move to the next stage."
    )
    position = forms.IntegerField(min_value=0, max_value=32767, initial=0)

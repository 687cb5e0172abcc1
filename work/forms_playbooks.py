"""Forms of the playbook and team pages. They convert the input, with the
fields that hold a limit made from the model's (csplatform.validation); the
services check the rules (unique names, earlier dependencies, known skills),
and their ValidationErrors land on these forms' fields. Choices come from
lists read once per page, never a query per row."""

from __future__ import annotations

from django import forms

from csplatform.validation import model_formfield
from lifecycle.models import Stage
from work.models import (
    AssigneeRule,
    CsmGroup,
    CsmProfile,
    OutOfOffice,
    Playbook,
    PlaybookRun,
    PlaybookStep,
    Skill,
    WorkSettings,
)
from work.selectors.playbooks import step_values

DATE = forms.DateInput(attrs={"type": "date"})


class PlaybookForm(forms.Form):
    name = model_formfield(Playbook, "name")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    stage = forms.ChoiceField(
        required=False,
        choices=[("", "No stage (a situation)"), *Stage.choices],
        help_text="The stage it is for; none for a situation such as a risk or a renewal.",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def service_kwargs(self) -> dict:
        return dict(self.cleaned_data)


def _choices(items, empty: str):
    return [("", empty), *items]


class StepForm(forms.Form):
    title = model_formfield(PlaybookStep, "title")
    instructions = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="The protocol the CSM follows.",
    )
    required_skill = forms.ChoiceField(required=False, label="Required skill")
    estimated_minutes = model_formfield(
        PlaybookStep, "estimated_minutes", label="Estimate (minutes)"
    )
    due_offset_days = model_formfield(
        PlaybookStep,
        "due_offset_days",
        label="Due after (days)",
        help_text="Days after the task is created.",
    )
    priority = model_formfield(PlaybookStep, "priority")
    assignee_rule = forms.ChoiceField(
        choices=AssigneeRule.choices, initial=AssigneeRule.OWNER, label="Assign to"
    )
    assignee_user = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Named person"
    )
    assignee_group = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Round-robin group"
    )
    depends_on = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Waits for"
    )
    position = model_formfield(
        PlaybookStep, "position", required=False, help_text="Order in the playbook."
    )

    def __init__(self, *args, skills, members, groups, steps, editing=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["required_skill"].choices = _choices(
            [(s.key, s.label) for s in skills], "Any CSM"
        )
        self.fields["assignee_user"].choices = _choices(
            [(u.pk, u.display_name) for u in members], "—"
        )
        self.fields["assignee_group"].choices = _choices([(g.pk, g.name) for g in groups], "—")
        self.fields["depends_on"].choices = _choices(
            [
                (s.pk, f"{s.position}. {s.title}")
                for s in steps
                if editing is None or s.pk != editing.pk
            ],
            "Nothing (created at start)",
        )

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data["assignee_user_id"] = data.pop("assignee_user")
        data["assignee_group_id"] = data.pop("assignee_group")
        data["depends_on_id"] = data.pop("depends_on")
        return data

    @staticmethod
    def initial_for(step) -> dict:
        return step_values(step)


class StartForm(forms.Form):
    playbook = forms.TypedChoiceField(coerce=int, label="Playbook")
    reason = model_formfield(PlaybookRun, "reason")
    # A fresh value per rendered form: sending the same form twice starts once.
    nonce = forms.RegexField(regex=r"^[A-Za-z0-9_-]{8,40}$", widget=forms.HiddenInput)

    def __init__(self, *args, playbooks, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["playbook"].choices = _choices(
            [(p.pk, p.name) for p in playbooks], "Choose a playbook"
        )


class ProfileForm(forms.Form):
    skills = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Skills"
    )
    weekly_capacity_hours = model_formfield(
        CsmProfile, "weekly_capacity_hours", label="Hours a week"
    )
    takes_assignments = forms.BooleanField(required=False, label="Takes assignments")

    def __init__(self, *args, skills, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["skills"].choices = [(s.key, s.label) for s in skills]


class AbsenceForm(forms.Form):
    starts_on = forms.DateField(widget=DATE, label="From")
    ends_on = forms.DateField(widget=DATE, label="To")
    note = model_formfield(OutOfOffice, "note")


class SkillForm(forms.Form):
    label = model_formfield(Skill, "label", label="New skill")
    key = forms.SlugField(max_length=50, required=False, help_text="Made from the name if blank.")


class GroupForm(forms.Form):
    name = model_formfield(CsmGroup, "name")
    member_ids = forms.TypedMultipleChoiceField(
        coerce=int, widget=forms.CheckboxSelectMultiple, label="Members (in turn order)"
    )

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member_ids"].choices = [(u.pk, u.display_name) for u in members]


class WorkSettingsForm(forms.Form):
    unplanned_share_percent = model_formfield(
        WorkSettings,
        "unplanned_share_percent",
        label="Unplanned share (%)",
        help_text="Share of every CSM's weekly hours kept free for unplanned work (0-90).",
    )

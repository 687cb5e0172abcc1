"""Forms of the queue and task pages. They convert the input; the fields
that hold a limit come from the model (csplatform.validation.model_formfield), and
work.services checks the rest (a snooze after today, ids of this tenant)."""

from __future__ import annotations

import uuid

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join

from csplatform.validation import model_formfield
from lifecycle.forms import apply_errors
from work.models import Priority, Task, TimeEntry
from work.services import TASK_ACTIONS


class QuickSelect(forms.Select):
    """A select rendered in Python: Django's template-rendered widget costs
    about half a millisecond per option, too slow for a book of accounts."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = "" if value is None else str(value)
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (key, " selected" if str(key) == chosen else "", label)
                for key, label in self.choices
            ),
        )
        final = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        return format_html("<select{}>{}</select>", flatatt(final), options)


PRIORITY_CHOICES = [("", "Any priority"), *[(str(v), label) for v, label in Priority.choices]]


class QueueFilterForm(forms.Form):
    user = forms.IntegerField(required=False, widget=forms.HiddenInput)
    account = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, widget=QuickSelect
    )
    playbook = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    priority = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, choices=PRIORITY_CHOICES
    )

    def __init__(self, *args, accounts=(), playbooks=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [("", "Any account")] + [
            (str(a.pk), a.name) for a in accounts
        ]
        self.fields["playbook"].choices = [("", "Any playbook")] + [
            (str(p.pk), p.name) for p in playbooks
        ]


class TransitionForm(forms.Form):
    action = forms.ChoiceField(choices=[(a, a) for a in TASK_ACTIONS])
    outcome = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


DATE = forms.DateInput(attrs={"type": "date"})


class SnoozeForm(forms.Form):
    until = model_formfield(Task, "due_date", label="Snooze until", widget=DATE)


class TimeLogForm(forms.Form):
    minutes = model_formfield(TimeEntry, "minutes")
    note = model_formfield(TimeEntry, "note")
    logged_on = model_formfield(TimeEntry, "logged_on", required=False, label="Day", widget=DATE)


class OutcomeForm(forms.Form):
    outcome = forms.CharField(label="Outcome note", widget=forms.Textarea(attrs={"rows": 2}))


class ReassignForm(forms.Form):
    assignee = forms.TypedChoiceField(label="Reassign to", coerce=int)

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", "Choose a person")] + [
            (str(m.pk), m.display_name) for m in members
        ]

    def apply_errors(self, error):
        """tasks_reassign names its arguments (`assignee_id`, `task_ids`)."""
        if hasattr(error, "error_dict") and "assignee_id" in error.error_dict:
            error.error_dict["assignee"] = error.error_dict.pop("assignee_id")
        return apply_errors(self, error)


class BulkReassignForm(ReassignForm):
    task_ids = forms.TypedMultipleChoiceField(coerce=int, label="Tasks")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any id: the service names those that are not this tenant's tasks.
        self.fields["task_ids"].valid_value = lambda value: str(value).isdigit()
        self.fields["task_ids"].error_messages["required"] = "Tick the tasks to reassign."


class TaskCreateForm(forms.Form):
    account = forms.TypedChoiceField(coerce=int, widget=QuickSelect)
    title = model_formfield(Task, "title")
    due_date = model_formfield(Task, "due_date", widget=DATE)
    priority = model_formfield(Task, "priority")
    estimated_minutes = model_formfield(Task, "estimated_minutes", label="Estimate (minutes)")
    instructions = model_formfield(Task, "instructions", widget=forms.Textarea(attrs={"rows": 2}))
    # A nonce per rendered form: submitting the same form twice adds one task.
    request_key = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["request_key"] = uuid.uuid4().hex
        self.fields["account"].choices = [("", "Choose an account")] + [
            (str(a.pk), a.name) for a in accounts
        ]

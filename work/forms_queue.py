"""Forms of the queue and task pages. They check the shape of the input;
work.services checks the rules (a snooze after today, minutes in range)."""

from __future__ import annotations

import uuid

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join

from work.models import Priority
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


class SnoozeForm(forms.Form):
    until = forms.DateField(label="Snooze until", widget=forms.DateInput(attrs={"type": "date"}))


class TimeLogForm(forms.Form):
    minutes = forms.IntegerField(widget=forms.NumberInput(attrs={"min": 1, "max": 1440}))
    note = forms.CharField(required=False, max_length=300)
    logged_on = forms.DateField(
        required=False, label="Day", widget=forms.DateInput(attrs={"type": "date"})
    )


class OutcomeForm(forms.Form):
    outcome = forms.CharField(label="Outcome note", widget=forms.Textarea(attrs={"rows": 2}))


class ReassignForm(forms.Form):
    assignee = forms.TypedChoiceField(label="Reassign to", coerce=int)

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", "Choose a person")] + [
            (str(m.pk), m.display_name) for m in members
        ]


class BulkReassignForm(ReassignForm):
    task_ids = forms.TypedMultipleChoiceField(coerce=int, label="Tasks")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any id: the service finds only this tenant's open tasks.
        self.fields["task_ids"].valid_value = lambda value: str(value).isdigit()
        self.fields["task_ids"].error_messages["required"] = "Tick the tasks to reassign."


class TaskCreateForm(forms.Form):
    account = forms.TypedChoiceField(coerce=int, widget=QuickSelect)
    title = forms.CharField(max_length=200)
    due_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    priority = forms.TypedChoiceField(
        coerce=int, choices=[(str(v), label) for v, label in Priority.choices], initial="3"
    )
    estimated_minutes = forms.IntegerField(
        label="Estimate (minutes)", initial=30, min_value=1, max_value=10_000
    )
    instructions = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    # A nonce per rendered form: submitting the same form twice adds one task.
    request_key = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["request_key"] = uuid.uuid4().hex
        self.fields["account"].choices = [("", "Choose an account")] + [
            (str(a.pk), a.name) for a in accounts
        ]

from django import forms

from csplatform.tenancy.models import Role


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What uses the key, e.g. 'Salesforce sync'.",
        widget=forms.TextInput(attrs={"placeholder": "Salesforce sync"}),
    )
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.CSM,
        help_text="What the key may do: viewer reads, csm and above write.",
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the key a name.")
        return name

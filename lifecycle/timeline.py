"""Timeline kinds registry: apps register the kinds of entry they write, so
pages can label and filter them without importing those apps."""

_kinds: dict[str, str] = {}


def register_kind(kind: str, label: str) -> None:
    _kinds[kind] = label


def kinds() -> dict[str, str]:
    return dict(sorted(_kinds.items(), key=lambda item: item[1]))


def label(kind: str) -> str:
    return _kinds.get(kind, kind.replace("_", " ").capitalize())


for _kind, _label in {
    "stage_changed": "Stage changed",
    "achievement_completed": "Achievement completed",
    "achievement_reopened": "Achievement reopened",
    "escalation_opened": "Escalation opened",
    "escalation_resolved": "Escalation resolved",
    "note": "Note",
    "meeting_logged": "Meeting",
    "call_logged": "Call",
    "account_created": "Account created",
    "owner_changed": "Owner changed",
    "contract_changed": "Contract changed",
}.items():
    register_kind(_kind, _label)

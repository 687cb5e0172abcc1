"""health's reactions to other apps' domain events."""

from csplatform.events.registry import subscribe
from health.services import usage_attach


@subscribe("account_identified", name="health.attach_early_usage")
def attach_early_usage(event) -> None:
    usage_attach(account_id=event.account_id, external_id=event.payload["external_id"])

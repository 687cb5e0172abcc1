from django.db import models
from django.utils import timezone

from csplatform.tenancy.models import TenantScopedModel


class DomainEvent(TenantScopedModel):
    """Something that happened, written in the same transaction as the change.

    Dispatched to Celery after commit; `dispatched_at` stays empty until every
    subscribed handler has run. `next_attempt_at` is when the delivery is
    overdue: set at record time to the queue's normal delay, pushed back
    exponentially each time the beat sweep sends it again, so the sweep
    re-sends lost deliveries and never ones still waiting in the queue.
    """

    kind = models.CharField(max_length=60)
    account_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    payload = models.JSONField(default=dict)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["tenant", "next_attempt_at"],
                name="event_redispatch_due",
                condition=models.Q(dispatched_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class HandlerReceipt(TenantScopedModel):
    """One row per (event, handler) that has run: a second delivery finds it and skips."""

    event = models.ForeignKey(DomainEvent, on_delete=models.CASCADE, related_name="receipts")
    handler = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "handler"], name="receipt_once_per_handler")
        ]


class CoalescedEvent(TenantScopedModel):
    """The counts of a coalesced kind (see the catalogue) for one account, not
    yet recorded as a DomainEvent: "this account has had usage since
    `created_at`". Each change adds to `payload`; once `due_at` passes, a beat
    sweep deletes the row and records one event with the sums, in one
    transaction."""

    kind = models.CharField(max_length=60)
    account_id = models.BigIntegerField()
    payload = models.JSONField(default=dict)
    due_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "account_id"], name="coalesced_once_per_account"
            )
        ]
        indexes = [models.Index(fields=["tenant", "due_at"], name="coalesced_due")]

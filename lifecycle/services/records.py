"""Contacts, contracts and segments."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from csplatform.tenancy.models import User
from lifecycle.models import (
    Contact,
    Contract,
    Segment,
)
from lifecycle.segments import validate_segment_filters
from lifecycle.services.accounts import _upsert
from lifecycle.services.timeline import timeline_record


def _save_child(instance, *, unique_message: dict[str, list[str]]):
    instance.full_clean(exclude=["tenant", "account"], validate_constraints=False)
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        raise ValidationError(unique_message) from exc
    return instance


CONTACT_FIELDS = {"account", "external_id", "name", "email", "title", "role"}
CONTACT_UNIQUE = {
    "email": ["This account already has a contact with this email."],
    "external_id": ["A contact with this external id already exists."],
}


def _contact_unique_error(contact: Contact) -> dict[str, list[str]]:
    if (
        contact.external_id
        and Contact.objects.filter(external_id=contact.external_id).exclude(pk=contact.pk).exists()
    ):
        return {"external_id": CONTACT_UNIQUE["external_id"]}
    return {"email": CONTACT_UNIQUE["email"]}


@transaction.atomic
def contact_save(
    *, contact: Contact | None = None, actor: User | None = None, **fields: Any
) -> Contact:
    unknown = set(fields) - CONTACT_FIELDS
    if unknown:
        raise ValidationError({field: ["Unknown field."] for field in unknown})
    contact = contact or Contact()
    for field, value in fields.items():
        setattr(contact, field, value)
    contact.email = (contact.email or "").lower()
    return _save_child(contact, unique_message=_contact_unique_error(contact))


@transaction.atomic
def contact_upsert(
    *, external_id: str, actor: User | None = None, **fields: Any
) -> tuple[Contact, bool]:
    return _upsert(
        Contact,
        external_id=external_id,
        create=lambda: contact_save(external_id=external_id, actor=actor, **fields),
        update=lambda contact: contact_save(contact=contact, actor=actor, **fields),
    )


CONTRACT_FIELDS = {"account", "external_id", "arr", "seats", "start_date", "renewal_date", "status"}


@transaction.atomic
def contract_save(
    *, contract: Contract | None = None, actor: User | None = None, **fields: Any
) -> Contract:
    unknown = set(fields) - CONTRACT_FIELDS
    if unknown:
        raise ValidationError({field: ["Unknown field."] for field in unknown})
    creating = contract is None
    contract = contract or Contract()
    for field, value in fields.items():
        setattr(contract, field, value)
    if (
        contract.start_date
        and contract.renewal_date
        and contract.renewal_date < contract.start_date
    ):
        raise ValidationError(
            {"renewal_date": ["The renewal date cannot be before the start date."]}
        )
    _save_child(
        contract,
        unique_message={"external_id": ["A contract with this external id already exists."]},
    )
    timeline_record(
        account=contract.account,
        kind="contract_changed",
        title=(
            f"Contract added: ARR {contract.arr:,.0f}, renews {contract.renewal_date:%Y-%m-%d}"
            if creating
            else f"Contract updated: ARR {contract.arr:,.0f}, {contract.get_status_display()}"
        ),
        actor=actor,
        payload={"contract_id": contract.pk, "arr": str(contract.arr), "status": contract.status},
    )
    return contract


@transaction.atomic
def contract_upsert(
    *, external_id: str, actor: User | None = None, **fields: Any
) -> tuple[Contract, bool]:
    return _upsert(
        Contract,
        external_id=external_id,
        create=lambda: contract_save(external_id=external_id, actor=actor, **fields),
        update=lambda contract: contract_save(contract=contract, actor=actor, **fields),
    )


@transaction.atomic
def segment_save(
    *, segment: Segment | None = None, name: str, filters: dict, description: str = ""
) -> Segment:
    segment = segment or Segment()
    segment.name, segment.description = name, description
    segment.filters = validate_segment_filters(filters)
    segment.full_clean(exclude=["tenant"], validate_constraints=False)
    if Segment.objects.filter(name=name).exclude(pk=segment.pk).exists():
        raise ValidationError({"name": ["A segment with this name already exists."]})
    segment.save()
    return segment

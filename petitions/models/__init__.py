"""Database models, one module per aggregate; invariants live in constraints."""

from .outbox import OutboxMessage
from .petition import CountShard, Petition, PetitionState
from .signature import Signature, SignatureStatus
from .types import utcnow

__all__ = [
    "CountShard",
    "OutboxMessage",
    "Petition",
    "PetitionState",
    "Signature",
    "SignatureStatus",
    "utcnow",
]

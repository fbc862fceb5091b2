"""Database models, one module per aggregate; invariants live in constraints."""

from .abuse import (
    AccessRule,
    AdminEvent,
    BulkAction,
    BulkActionItem,
    BulkKind,
    BulkState,
    MailRecipientCount,
    RemovalCategory,
    RuleAction,
    RuleKind,
    SignatureFlag,
    SiteSetting,
    TrendingSource,
)
from .moderation import EventAction, PetitionEvent
from .opendata import DailyCount
from .outbox import OutboxMessage
from .petition import (
    CountShard,
    Petition,
    PetitionState,
    PetitionTranslation,
    RejectionReason,
    TranslationState,
)
from .rollups import SignatureDay, SignatureHour, SignaturePlace, SignatureTotal
from .signature import REMOVED_STATUSES, Signature, SignatureStatus
from .types import utcnow
from .updates import MilestoneKind, PetitionMilestone, PetitionUpdate
from .user import Role, User, UserSession

__all__ = [
    "AccessRule",
    "AdminEvent",
    "BulkAction",
    "BulkActionItem",
    "BulkKind",
    "BulkState",
    "MailRecipientCount",
    "RemovalCategory",
    "RuleAction",
    "RuleKind",
    "SignatureFlag",
    "SiteSetting",
    "TrendingSource",
    "CountShard",
    "DailyCount",
    "REMOVED_STATUSES",
    "EventAction",
    "MilestoneKind",
    "PetitionMilestone",
    "PetitionUpdate",
    "PetitionEvent",
    "RejectionReason",
    "Role",
    "User",
    "UserSession",
    "OutboxMessage",
    "Petition",
    "PetitionState",
    "PetitionTranslation",
    "Signature",
    "SignatureDay",
    "SignatureHour",
    "SignaturePlace",
    "SignatureTotal",
    "TranslationState",
    "SignatureStatus",
    "utcnow",
]

"""The models of cooperation, one module per concern."""

from .agreements import (  # noqa: F401
    Agreement,
    AgreementDocument,
    AgreementParty,
    EscalationStep,
    Goal,
    agreement_q,
)
from .networks import Meeting, MeetingTask, Network, NetworkMember, network_editor_q, network_q  # noqa: F401
from .organizations import (  # noqa: F401
    MAX_AGE,
    PHONE,
    POSTAL_CODE,
    Location,
    Membership,
    Organization,
    Service,
    TargetGroup,
    choice_array,
    confirmation_cutoff,
)
from .planning import (  # noqa: F401
    ConflictCase,
    NeedReport,
    PlanningDecision,
    PlanningParticipant,
    PlanningProcess,
    SwotEntry,
)
from .tokens import IntegrationToken, TokenScope  # noqa: F401

"""The operations catalog (catalog.py) and what its entries are made of (spec, params, request); one module per
Azure resource provider (compute, web, containers, data) holds that provider's entries, each cited to its REST page."""

from .catalog import (
    CATALOG,
    OPERATION_WORDS,
    Operation,
    OperationPattern,
    allowed,
    by_key,
    changed,
    described,
    facts_of,
    find,
    operations_of,
    plan_action,
    state_of,
    words_of,
)
from .params import Param, ParamError, Parameters, ParamKind, ParamValue, parse_parameters, schema
from .request import ArmRequest
from .spec import Facts, Observation, OperationSpec, PlanContext, PlannedAction, Read, StateSpec, Unplannable

__all__ = [
    "CATALOG",
    "OPERATION_WORDS",
    "ArmRequest",
    "Facts",
    "Observation",
    "Operation",
    "OperationPattern",
    "OperationSpec",
    "Param",
    "ParamError",
    "ParamKind",
    "ParamValue",
    "Parameters",
    "PlanContext",
    "PlannedAction",
    "Read",
    "StateSpec",
    "Unplannable",
    "allowed",
    "by_key",
    "changed",
    "described",
    "facts_of",
    "find",
    "operations_of",
    "parse_parameters",
    "plan_action",
    "schema",
    "state_of",
    "words_of",
]

"""Airflow operators for lifegate's gates (what DAG authors import).

This module must stay cheap to import: Airflow parses DAG files constantly. Names are loaded on
first use (PEP 562), and heavy libraries only inside ``execute``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lifegate.operators._actions import RetirementPlanOperator, RevokeReleaseOperator
    from lifegate.operators._approval import ReleaseApprovalOperator, RetirementApprovalOperator
    from lifegate.operators._base import (
        LifegateConfigFailure,
        LifegateGateFailed,
        LifegateGateOperator,
        LifegateInfrastructureError,
    )
    from lifegate.operators._gates import (
        ApprovalGateOperator,
        DataValidationGateOperator,
        DisclosureGateOperator,
        DriftGateOperator,
        InventoryGateOperator,
        ModelScanGateOperator,
        RetirementOperator,
        SbomGateOperator,
        SignModelOperator,
        ThreatModelGateOperator,
        VerifyModelOperator,
    )
    from lifegate.operators._hook import LifegateHook
    from lifegate.operators._insert import GatePlacement, insert_gates

_WHERE = {
    "LifegateGateOperator": "_base",
    "LifegateGateFailed": "_base",
    "LifegateConfigFailure": "_base",
    "LifegateInfrastructureError": "_base",
    "LifegateHook": "_hook",
    "ReleaseApprovalOperator": "_approval",
    "RetirementApprovalOperator": "_approval",
    "RetirementPlanOperator": "_actions",
    "RevokeReleaseOperator": "_actions",
    "GatePlacement": "_insert",
    "insert_gates": "_insert",
    **dict.fromkeys([
        "ApprovalGateOperator", "DataValidationGateOperator", "DisclosureGateOperator",
        "DriftGateOperator", "InventoryGateOperator", "ModelScanGateOperator",
        "RetirementOperator", "SbomGateOperator", "SignModelOperator",
        "ThreatModelGateOperator", "VerifyModelOperator"], "_gates"),
}

__all__ = [
    "ApprovalGateOperator",
    "DataValidationGateOperator",
    "DisclosureGateOperator",
    "DriftGateOperator",
    "GatePlacement",
    "InventoryGateOperator",
    "LifegateConfigFailure",
    "LifegateGateFailed",
    "LifegateGateOperator",
    "LifegateHook",
    "LifegateInfrastructureError",
    "ModelScanGateOperator",
    "ReleaseApprovalOperator",
    "RetirementApprovalOperator",
    "RetirementOperator",
    "RetirementPlanOperator",
    "RevokeReleaseOperator",
    "SbomGateOperator",
    "SignModelOperator",
    "ThreatModelGateOperator",
    "VerifyModelOperator",
    "insert_gates",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'lifegate.operators' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"lifegate.operators.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])

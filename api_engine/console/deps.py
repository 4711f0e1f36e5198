"""FastAPI dependencies shared by the pages and the JSON API: the console state and the role gates.

Strategy: one definition of who may call what, so a page and its JSON twin cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .auth import ADMINS, ANY_ROLE, AUDITORS, LIST_MANAGERS, OFFICERS, Principal, RoleGate
from .state import ConsoleState


def state_of(request: Request) -> ConsoleState:
    st: ConsoleState = request.app.state.console
    return st


RULE_READERS = RoleGate("officer", "supervisor", "auditor")  # the targeting rules: read by all who work cases
RULE_EDITORS = RoleGate("supervisor")  # propose, approve (four eyes), reject, retire, dry-run

State = Annotated[ConsoleState, Depends(state_of)]
Officer = Annotated[Principal, Depends(OFFICERS)]
ListManager = Annotated[Principal, Depends(LIST_MANAGERS)]
Auditor = Annotated[Principal, Depends(AUDITORS)]
Admin = Annotated[Principal, Depends(ADMINS)]
Anyone = Annotated[Principal, Depends(ANY_ROLE)]
RuleReader = Annotated[Principal, Depends(RULE_READERS)]
RuleEditor = Annotated[Principal, Depends(RULE_EDITORS)]

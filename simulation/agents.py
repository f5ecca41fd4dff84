"""Thin ``mesa.Agent`` views of people: properties read the state arrays, nothing is copied.

They exist for Mesa users, the dashboard's tooltips and teaching; the kernels never touch them.
"""

from __future__ import annotations

import mesa

from .params import CARE_STATES, DIAGNOSES, ROLES
from .recorder import PAM_CUTS


class PersonView(mesa.Agent):
    """One person with serious mental illness, as a view on row ``index`` of the state arrays."""

    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = index

    def _cur(self, name):
        return self.model.state.cur[name][self.index]

    @property
    def diagnosis(self) -> str:
        return DIAGNOSES[self.model.state.static["diagnosis"][self.index]]

    @property
    def role(self) -> str:
        return ROLES[self.model.state.cur["role"][self.index]]

    @property
    def community(self) -> int | None:
        c = int(self._cur("community"))
        return None if c < 0 else c

    @property
    def online(self) -> bool:
        return self.community is not None

    @property
    def activation(self) -> float:
        return float(self._cur("activation"))

    @property
    def pam_level(self) -> int:
        a = self.activation
        return 1 + sum(a >= cut for cut in PAM_CUTS)

    @property
    def self_stigma(self) -> float:
        return float(self._cur("stigma"))

    @property
    def belonging(self) -> float:
        return float(self._cur("belonging"))

    @property
    def empowerment(self) -> float:
        return float(self._cur("empowerment"))

    @property
    def uncertainty(self) -> float:
        return float(self._cur("uncertainty"))

    @property
    def misinformed(self) -> bool:
        return int(self._cur("misinfo")) == 1

    @property
    def care_status(self) -> str:
        return CARE_STATES[int(self._cur("care"))]

    @property
    def wellbeing_mental(self) -> float:
        return float(self._cur("wellbeing_mental"))

    @property
    def wellbeing_physical(self) -> float:
        return float(self._cur("wellbeing_physical"))

    @property
    def recovery(self) -> float:
        return float(self._cur("recovery"))

    @property
    def employed(self) -> bool:
        return bool(self._cur("employed"))

    @property
    def enrolled(self) -> bool:
        return bool(self._cur("enrolled"))

    def as_dict(self) -> dict:
        """Everything about this person today (for tooltips and tables)."""
        names = (
            "diagnosis", "role", "community", "activation", "pam_level", "self_stigma", "belonging",
            "empowerment", "uncertainty", "misinformed", "care_status", "wellbeing_mental",
            "wellbeing_physical", "recovery", "employed", "enrolled",
        )  # fmt: skip
        return {"index": self.index, **{k: getattr(self, k) for k in names}}

    def __repr__(self) -> str:
        return f"PersonView({self.index}, {self.diagnosis}, community={self.community})"

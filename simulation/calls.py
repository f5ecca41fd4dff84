"""Kernel calls bound by name, never by position.

A kernel's parameters are named after the state arrays they take, so the state supplies them and
a call lists only what is not state: ``C.social(st, th=th)``. Two arrays of one dtype cannot be
swapped at a call (it names none), and an array given by keyword where the state supplies one is
refused with both names. The names, read from the kernel's Python signature (``py_func``):

=========================  ======================================================
parameter                  argument
=========================  ======================================================
``name`` (``DYNAMIC``)     ``st.cur[name]``: day t
``name_next``              ``st.nxt[name]``: day t+1 (written by a kernel today)
``name`` (``STATIC``)      ``st.static[name]``
``name`` (``SCRATCH``)     ``st.scratch[name]``: today's flows
``c_name`` (``COMMUNITY``) ``st.comm[name]``
``tag``                    ``st.tag``
``n_communities``          ``st.n_communities``
one of ``GIVEN``           given by keyword at each call, checked against ``GIVEN``
=========================  ======================================================

A parameter that is none of these fails when its kernel is wrapped (on import), and so does a
given one after a state one (a call is ``kernel(*given, *state arrays)``). A kernel's state
arrays are bound and checked against the dtypes of ``state.py`` and the run's lengths on its first
call for each day parity, and kept on the State (``State.swap`` swaps them along with ``cur`` and
``nxt``; ``State.freeze`` drops them); an array given by keyword is checked once per State, then
known by identity. A call is then one short Python function around the positional call
(``benchmarks/bench_kernel_calls.py`` measures what it adds).
"""

from __future__ import annotations

import inspect

import numpy as np

from . import kernels as K
from . import summary_kernel as SK
from . import theta as T
from .state import COMMUNITY, DYNAMIC, SCRATCH, STATIC, State

# The person-level tables share no name, so a bare parameter name says which table it is from.
_PERSON_TABLES = (("cur", DYNAMIC), ("static", STATIC), ("scratch", SCRATCH))
_shared = set(DYNAMIC) & set(STATIC) | set(DYNAMIC) & set(SCRATCH) | set(STATIC) & set(SCRATCH)
if _shared:
    raise AssertionError(f"state tables share names {sorted(_shared)}: kernels bind by name")

# What a call gives by keyword: name -> (the types it may have, the dtype of an array, its length:
# an int, "n+1" for one more than the people, or None for any). Numba would compile another
# version for another type, and a wrong random key or switch would run. (Numba types bool and
# numpy's bool alike, and the switches may hold either: ``params.validate``.)
_FLAG = ((bool, np.bool_), None, None)
GIVEN: dict[str, tuple[tuple[type, ...], np.dtype | None, int | str | None]] = {
    # the parameter vector (theta.pack_theta)
    "th": ((np.ndarray,), np.dtype(np.float64), len(T.NAMES)),
    "key": ((np.uint64,), None, None),  # the mechanism's random key today (loop.step_keys)
    "belief_key": ((np.uint64,), None, None),  # the belief update's, when the exchange runs it
    "pack": _FLAG,
    "peer_norms": _FLAG,
    "beliefs": _FLAG,
    "all_flows": _FLAG,
    "indptr": ((np.ndarray,), np.dtype(np.int64), "n+1"),  # the ties (network.CSRGraph)
    "indices": ((np.ndarray,), np.dtype(np.int32), None),
    "cut1": ((float,), None, None),  # PAM level cut-points (recorder.PAM_CUTS)
    "cut2": ((float,), None, None),
    "cut3": ((float,), None, None),
    "stigma_high": ((float,), None, None),
    # the groups' cells summed in the same pass (recorder.GroupTracker.given), or None
    "groups": ((tuple, type(None)), None, None),
}


def _source(kernel: str, param: str) -> tuple[str, str | None, type | None] | None:
    """Where ``param`` comes from: (State attribute, table key, dtype), or None when given."""
    if param in GIVEN:
        return None
    if param == "tag":
        return "tag", None, np.int32
    if param == "n_communities":
        return "n_communities", None, None
    if param.endswith("_next") and param.removesuffix("_next") in DYNAMIC:
        name = param.removesuffix("_next")
        return "nxt", name, DYNAMIC[name]
    if param.startswith("c_") and param[2:] in COMMUNITY:
        return "comm", param[2:], COMMUNITY[param[2:]]
    for table, spec in _PERSON_TABLES:
        if param in spec:
            return table, param, spec[param]
    raise TypeError(
        f"{kernel}: parameter {param!r} names no state array (state.py) and is not in calls.GIVEN"
    )


class KernelCall:
    """A compiled kernel called with its state arrays bound by name and the rest by keyword.

    Parameters
    ----------
    kernel
        A Numba dispatcher whose ``py_func`` names its parameters as the module docstring says,
        those given by keyword first (so a call is ``kernel(*given, *state arrays)``).

    Raises
    ------
    TypeError
        A parameter is neither a state array nor in ``GIVEN``, or a keyword one follows a state one.
    """

    def __init__(self, kernel):
        self.kernel = kernel
        self.name = kernel.py_func.__name__
        self.params = tuple(inspect.signature(kernel.py_func).parameters)
        self.sources = tuple(_source(self.name, p) for p in self.params)
        self.names = tuple(p for p, src in zip(self.params, self.sources) if src is None)
        if self.params[: len(self.names)] != self.names:
            raise TypeError(f"{self.name}: parameters {', '.join(self.names)} must come first")
        self.call = self._compile()
        self.call.binding = self

    def _compile(self):
        """The call, as a function whose keyword-only parameters are the kernel's given ones.

        Python's own argument binding then refuses a positional, missing or repeated argument
        (in C, at no cost to a correct call); the body checks the types, and an array's dtype and length once per State
        (the parameters change only on events, the ties never: later calls compare identity).
        A day makes a dozen calls, so each is kept as short as the positional call it replaces.
        """
        lines = []
        space = {"self": self, "kernel": self.kernel}
        for p in self.names:
            kinds, dtype, _ = GIVEN[p]
            if dtype is None:
                space[f"kinds_{p}"] = kinds
                lines.append(f"    if type({p}) not in kinds_{p}:")
                lines.append(f"        raise TypeError(self._wrong({p!r}, {p}, st))")
            else:
                lines.append(f"    if b.get({p!r}) is not {p}:")
                lines.append(f"        self._check_array({p!r}, {p}, st)")
        given = "".join(f"{p}, " for p in self.names)
        src = "\n".join(
            [
                f"def {self.name}(st, /, {'*, ' if given else ''}{given}**extra):",
                "    if extra:",
                "        raise TypeError(self._misnamed(extra))",
                "    b = st.bindings",
                *lines,
                "    a = b.get(self)",
                "    if a is None:",
                "        a = self.bind(st)",
                f"    return kernel({given}*a)",
            ]
        )
        exec(compile(src, f"<calls.{self.name}>", "exec"), space)
        return space[self.name]

    def _check_array(self, p: str, v, st: State) -> None:
        """Check a given array against ``GIVEN`` and remember it on ``st`` as checked."""
        kinds, dtype, length = GIVEN[p]
        if type(v) not in kinds or not _fits(v, dtype, length, st):
            raise TypeError(self._wrong(p, v, st))
        st.bindings[p] = v

    def bind(self, st: State) -> tuple:
        """This kernel's state arrays for today's ``cur``/``nxt``, checked against ``state.py`` and
        the run's lengths, and cached on ``st``.

        Raises
        ------
        TypeError
            A state array does not have its table's dtype, or the length of the run.
        """
        args = []
        for p, src in zip(self.params[len(self.names) :], self.sources[len(self.names) :]):
            attr, name, dtype = src
            a = getattr(st, attr)
            if name is not None:
                a = a[name]
            if dtype is not None:
                n = st.n_communities if attr == "comm" else st.n
                if not isinstance(a, np.ndarray) or a.dtype != dtype or a.shape != (n,):
                    raise TypeError(
                        f"{self.name}: {p} must be {_describe((np.ndarray,), dtype, n, st)}, "
                        f"not {_got(a)}"
                    )
            args.append(a)
        st.bindings[self] = tuple(args)
        return tuple(args)

    def _wrong(self, p: str, v, st: State) -> str:
        kinds, dtype, length = GIVEN[p]
        return f"{self.name}: {p} must be {_describe(kinds, dtype, length, st)}, not {_got(v)}"

    def _misnamed(self, extra) -> str:
        state_names = sorted(set(extra) & set(self.params))
        unknown = sorted(set(extra) - set(self.params))
        parts = []
        if state_names:
            parts.append(
                f"{' and '.join(state_names)} "
                f"{'is a state array' if len(state_names) == 1 else 'are state arrays'}, "
                "bound by name (simulation/calls.py): do not pass"
            )
        if unknown:
            parts.append(f"no parameter {', '.join(unknown)}")
        return f"{self.name}: " + "; ".join(parts)


def _fits(v: np.ndarray, dtype, length, st: State) -> bool:
    return v.dtype == dtype and v.ndim == 1 and (length is None or len(v) == _n(length, st))


def _n(length: int | str, st: State) -> int:
    return st.n + 1 if length == "n+1" else length


def _describe(kinds: tuple[type, ...], dtype, length, st: State) -> str:
    if dtype is None:
        return " or ".join(dict.fromkeys(k.__name__ for k in kinds))  # numpy's bool is "bool" too
    size = "" if length is None else f" of length {_n(length, st)}"
    return f"a 1-d {np.dtype(dtype)} array{size}"


def _got(v) -> str:
    if isinstance(v, np.ndarray):
        return f"{v.dtype} of shape {v.shape}"
    return type(v).__name__


membership = KernelCall(K.membership_kernel).call
posting = KernelCall(K.posting_kernel).call
feed = KernelCall(K.feed_kernel).call
pack = KernelCall(K.pack_kernel).call
exchange = KernelCall(K.exchange_kernel).call
social = KernelCall(K.social_kernel).call
misinformation = KernelCall(K.misinformation_kernel).call
activation = KernelCall(K.activation_kernel).call
care = KernelCall(K.care_kernel).call
intervention = KernelCall(K.intervention_kernel).call
wellbeing = KernelCall(K.wellbeing_kernel).call
offline = KernelCall(K.offline_kernel).call
privacy = KernelCall(K.privacy_kernel).call
summary_sums = KernelCall(SK.summary_sums).call
community_sums = KernelCall(SK.community_sums).call

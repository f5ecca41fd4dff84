"""The base reply/follow network between people, built once and stored as CSR arrays.

Generated networks come from networkx generators (seeded from the run seed); a user's network
comes from a whitespace-separated edge list or a GraphML file. A tie carries exchange only while
both people are members of the same community (see ``kernels.py``).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import networkx as nx
import numpy as np

from .errors import NetworkFileError
from .params import ModelParams
from .rng import STREAM_INIT, step_key

log = logging.getLogger(__name__)


@dataclass
class CSRGraph:
    """An undirected graph as CSR arrays: neighbours of i are ``indices[indptr[i]:indptr[i+1]]``."""

    indptr: np.ndarray  # int64, length n+1
    indices: np.ndarray  # int32, length 2 * edges

    @property
    def n(self) -> int:
        return len(self.indptr) - 1

    @property
    def edges(self) -> int:
        return len(self.indices) // 2

    def degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    def to_networkx(self) -> nx.Graph:
        g = nx.Graph()
        g.add_nodes_from(range(self.n))
        src = np.repeat(np.arange(self.n), np.diff(self.indptr))
        keep = src < self.indices
        g.add_edges_from(zip(src[keep].tolist(), self.indices[keep].tolist()))
        return g


def csr_from_edges(n: int, u: np.ndarray, v: np.ndarray) -> CSRGraph:
    """Symmetric, deduplicated CSR from edge endpoint arrays (self-loops must already be gone)."""
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    src = np.concatenate([u, v])
    dst = np.concatenate([v, u])
    if len(src):
        key = np.unique(src * n + dst)
        src, dst = key // n, key % n
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return CSRGraph(indptr=indptr, indices=dst.astype(np.int32))


def csr_from_networkx(g: nx.Graph, n: int) -> CSRGraph:
    if g.number_of_edges() == 0:
        return csr_from_edges(n, np.empty(0), np.empty(0))
    e = np.asarray(list(g.edges()), dtype=np.int64)
    e = e[e[:, 0] != e[:, 1]]
    return csr_from_edges(n, e[:, 0], e[:, 1])


def network_seed(seed: int) -> int:
    """The seed passed to networkx generators, derived from the run seed."""
    return step_key(seed, STREAM_INIT, 1) % (2**32)


def build_network(params: ModelParams, home: np.ndarray) -> CSRGraph:
    """Build the base network for a run.

    Parameters
    ----------
    params : ModelParams
        ``params.network`` chooses the generator; ``params.population.size`` the node count.
    home : ndarray of int
        Each person's home community (the block of the stochastic block model).

    Returns
    -------
    CSRGraph

    Raises
    ------
    NetworkFileError
        The user's edge list or GraphML file is missing or malformed.

    References
    ----------
    Holland, Laskey & Leinhardt (1983), stochastic block models; Barabási & Albert (1999);
    Watts & Strogatz (1998).
    """
    net = params.network
    n = params.population.size
    seed = network_seed(params.seed)
    k = net.mean_degree
    if net.kind == "sbm":
        return _sbm(n, home, params.communities.count, k, net.within_share, seed)
    if net.kind == "barabasi_albert":
        m = max(1, round(k / 2))
        if n <= m:
            return csr_from_networkx(nx.complete_graph(n), n)
        return csr_from_networkx(nx.barabasi_albert_graph(n, m, seed=seed), n)
    if net.kind == "watts_strogatz":
        kk = max(2, 2 * round(k / 2))
        if n <= kk:
            return csr_from_networkx(nx.complete_graph(n), n)
        return csr_from_networkx(nx.watts_strogatz_graph(n, kk, net.rewire, seed=seed), n)
    if net.kind == "complete":
        i, j = np.triu_indices(n, 1)
        return csr_from_edges(n, i, j)
    if net.kind == "edgelist":
        u, v = read_edgelist(net.path, n)
        return csr_from_edges(n, u, v)
    if net.kind == "graphml":
        return read_graphml(net.path, n)
    raise ValueError(f"unknown network kind {net.kind}")  # validate() rejects it first


def _sbm(n: int, home: np.ndarray, blocks: int, k: float, within: float, seed: int) -> CSRGraph:
    sizes = np.bincount(home, minlength=blocks)
    order = np.argsort(home, kind="stable")  # block-ordered node b -> person order[b]
    probs = np.zeros((blocks, blocks))
    for a in range(blocks):
        for b in range(blocks):
            if a == b:
                probs[a, b] = k * within / max(sizes[a] - 1, 1)
            else:
                probs[a, b] = k * (1 - within) / max(n - sizes[a], 1)
    probs = np.minimum(probs, 1.0)
    probs = (probs + probs.T) / 2  # symmetric, as networkx requires for undirected graphs
    g = nx.stochastic_block_model(sizes.tolist(), probs.tolist(), seed=seed, sparse=True)
    if g.number_of_edges() == 0:
        return csr_from_edges(n, np.empty(0), np.empty(0))
    e = np.asarray(list(g.edges()), dtype=np.int64)
    return csr_from_edges(n, order[e[:, 0]], order[e[:, 1]])


def read_edgelist(path: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Read a whitespace-separated edge list, streaming, validating every line.

    Nodes are people numbered from 0 to ``n - 1``; ``#`` starts a comment; extra columns (weights)
    are ignored. Self-loops are dropped with a warning; duplicate edges count once.

    Raises
    ------
    NetworkFileError
        The file is missing, unreadable, binary, or a line is not two node ids in ``[0, n)``.
    """
    if not os.path.exists(path):
        raise NetworkFileError(f"network file {path!r} does not exist (network.path)")
    if os.path.isdir(path):
        raise NetworkFileError(f"network.path={path!r} is a folder; give an edge-list file")
    us: list[int] = []
    vs: list[int] = []
    loops = 0
    try:
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if "\x00" in line:
                    raise NetworkFileError(f"{path}:{lineno}: binary data; an edge list is text")
                text = line.split("#", 1)[0].strip()
                if not text:
                    continue
                cols = text.split()
                if len(cols) < 2:
                    raise NetworkFileError(
                        f"{path}:{lineno}: expected two node ids separated by whitespace, got {text!r}"
                    )
                try:
                    a, b = int(cols[0]), int(cols[1])
                except ValueError:
                    raise NetworkFileError(
                        f"{path}:{lineno}: node ids must be whole numbers, got {cols[0]!r} {cols[1]!r}"
                    ) from None
                for x in (a, b):
                    if x < 0 or x >= n:
                        raise NetworkFileError(
                            f"{path}:{lineno}: node id {x} is outside the population "
                            f"(ids 0 to {n - 1} for population.size={n})"
                        )
                if a == b:
                    loops += 1
                    continue
                us.append(a)
                vs.append(b)
    except UnicodeDecodeError as exc:
        raise NetworkFileError(f"{path}: not a text edge list ({exc.reason})") from None
    if not us:
        raise NetworkFileError(f"{path}: no edges found (empty file or only comments)")
    if loops:
        log.warning("%s: dropped %d self-loop(s)", path, loops)
    return np.asarray(us, dtype=np.int64), np.asarray(vs, dtype=np.int64)


def read_graphml(path: str, n: int) -> CSRGraph:
    """Read a GraphML network whose node ids are the integers 0 to ``n - 1``.

    Raises
    ------
    NetworkFileError
        The file is missing or not valid GraphML, or node ids are not integers in ``[0, n)``.
    """
    if not os.path.exists(path):
        raise NetworkFileError(f"network file {path!r} does not exist (network.path)")
    try:
        g = nx.read_graphml(path)
    except Exception as exc:  # networkx raises several types for malformed XML
        raise NetworkFileError(f"{path}: not a readable GraphML file ({exc})") from None
    mapping = {}
    for node in g.nodes:
        try:
            x = int(node)
        except (TypeError, ValueError):
            raise NetworkFileError(
                f"{path}: node id {node!r} is not a whole number (nodes are people 0 to {n - 1})"
            ) from None
        if x < 0 or x >= n or (isinstance(node, float) and not math.isclose(node, x)):
            raise NetworkFileError(f"{path}: node id {node!r} is outside 0 to {n - 1}")
        mapping[node] = x
    g = nx.relabel_nodes(g, mapping)
    loops = nx.number_of_selfloops(g)
    if loops:
        log.warning("%s: dropped %d self-loop(s)", path, loops)
    if g.number_of_edges() - loops == 0:
        raise NetworkFileError(f"{path}: no edges found")
    return csr_from_networkx(nx.Graph(g), n)

"""The base reply/follow network between people, built once and stored as CSR arrays.

Generated networks come from networkx generators (seeded from the run seed); a user's network
comes from a whitespace-separated edge list or a GraphML file. A tie carries exchange only while
both people are members of the same community (see ``kernels.py``).
"""

from __future__ import annotations

import logging
import os
import re
from array import array
from dataclasses import dataclass

import networkx as nx
import numpy as np
from numba import njit, prange

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


# Above this many people the stochastic block model is sampled straight into CSR arrays with numpy
# and Numba: networkx's generator builds a Python object per node and edge, which costs minutes and
# gigabytes at a million people. Below it, networkx's own generator is the reference.
LARGE_GRAPH = 50_000


def sbm_probabilities(sizes: np.ndarray, k: float, within: float) -> np.ndarray:
    """Block-pair tie probabilities giving mean degree ``k`` with a share ``within`` inside blocks."""
    blocks = len(sizes)
    n = int(sizes.sum())
    probs = np.zeros((blocks, blocks))
    for a in range(blocks):
        for b in range(blocks):
            if a == b:
                probs[a, b] = k * within / max(sizes[a] - 1, 1)
            else:
                probs[a, b] = k * (1 - within) / max(n - sizes[a], 1)
    probs = np.minimum(probs, 1.0)
    return (probs + probs.T) / 2  # symmetric, as an undirected graph requires


def _sbm(n: int, home: np.ndarray, blocks: int, k: float, within: float, seed: int) -> CSRGraph:
    sizes = np.bincount(home, minlength=blocks)
    if n > LARGE_GRAPH:
        return sbm_csr(home, sbm_probabilities(sizes, k, within), seed)
    order = np.argsort(home, kind="stable")  # block-ordered node b -> person order[b]
    probs = sbm_probabilities(sizes, k, within)
    # networkx's sparse sampler divides by log(1 - p), which is 0 below double precision: a
    # probability under 1e-15 gives under a millionth of a tie among the ≤ 50,000 people here.
    probs[probs < 1e-15] = 0.0
    g = nx.stochastic_block_model(sizes.tolist(), probs.tolist(), seed=seed, sparse=True)
    if g.number_of_edges() == 0:
        return csr_from_edges(n, np.empty(0), np.empty(0))
    e = np.asarray(list(g.edges()), dtype=np.int64)
    return csr_from_edges(n, order[e[:, 0]], order[e[:, 1]])


def sbm_csr(home: np.ndarray, probs: np.ndarray, seed: int) -> CSRGraph:
    """Sample a stochastic block model straight into CSR arrays (for large populations).

    For each block pair the number of ties is drawn from its binomial distribution and the
    endpoints uniformly within the blocks (Karrer & Newman 2011's sparse construction); self-pairs
    and the rare repeated pairs are dropped. Memory stays near the size of the final arrays.

    What it gives (``tests/test_scale.py`` checks it at 100,000 people): the ties between blocks a
    and b number Binomial(pairs, probs[a, b]), so a person of block a has about
    Poisson(probs[a, a]·(size_a - 1) + Σ_b≠a probs[a, b]·size_b) ties — with
    :func:`sbm_probabilities`' probabilities, a mean degree k, a share ``within`` of them inside the
    person's block — less the dropped self-pairs (a share 1/size_a of the ties inside block a)
    and repeats (a share about probs[a, b]/2 of the ties between blocks a and b): well under 0.1%
    for communities of thousands. The CSR is symmetric, each row sorted, with no self-loops or
    repeated ties.

    Parameters
    ----------
    home : ndarray of int
        Each person's block.
    probs : ndarray, shape (blocks, blocks)
        Symmetric tie probabilities between blocks.
    seed : int
        Seed of the numpy generator.

    Returns
    -------
    CSRGraph
    """
    rng = np.random.default_rng(seed)
    n = len(home)
    blocks = probs.shape[0]
    order = np.argsort(home, kind="stable").astype(np.int32)
    sizes = np.bincount(home, minlength=blocks)
    start = np.concatenate([[0], np.cumsum(sizes)])
    us, vs = [], []
    for a in range(blocks):
        for b in range(a, blocks):
            pairs = sizes[a] * (sizes[a] - 1) // 2 if a == b else sizes[a] * sizes[b]
            m = rng.binomial(pairs, probs[a, b]) if pairs > 0 else 0
            if m == 0:
                continue
            u = order[start[a] + rng.integers(0, sizes[a], m)]
            v = order[start[b] + rng.integers(0, sizes[b], m)]
            keep = u != v
            us.append(u[keep])
            vs.append(v[keep])
    if not us:
        return csr_from_edges(n, np.empty(0), np.empty(0))
    u = np.concatenate(us)
    v = np.concatenate(vs)
    del us, vs
    deg = np.bincount(u, minlength=n) + np.bincount(v, minlength=n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(deg, out=indptr[1:])
    indices = np.empty(indptr[-1], dtype=np.int32)
    _fill_csr(u, v, indptr, indices)
    del u, v
    new_deg = _sort_dedupe_rows(indptr, indices)
    new_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(new_deg, out=new_indptr[1:])
    return CSRGraph(indptr=new_indptr, indices=_compact_rows(indptr, indices, new_indptr))


@njit(cache=True)
def _fill_csr(u, v, indptr, indices):
    pos = indptr[:-1].copy()
    for e in range(u.shape[0]):
        a, b = u[e], v[e]
        indices[pos[a]] = b
        pos[a] += 1
        indices[pos[b]] = a
        pos[b] += 1


@njit(parallel=True, cache=True)
def _sort_dedupe_rows(indptr, indices):
    """Sort each row and move repeated neighbours to its end; return the deduplicated degrees."""
    n = indptr.shape[0] - 1
    deg = np.zeros(n, dtype=np.int64)
    for i in prange(n):
        lo, hi = indptr[i], indptr[i + 1]
        row = np.sort(indices[lo:hi])
        k = 0
        for j in range(row.shape[0]):
            if j == 0 or row[j] != row[j - 1]:
                indices[lo + k] = row[j]
                k += 1
        deg[i] = k
    return deg


@njit(parallel=True, cache=True)
def _compact_rows(indptr, indices, new_indptr):
    out = np.empty(new_indptr[-1], dtype=np.int32)
    for i in prange(indptr.shape[0] - 1):
        k = new_indptr[i + 1] - new_indptr[i]
        for j in range(k):
            out[new_indptr[i] + j] = indices[indptr[i] + j]
    return out


class _EdgeSet:
    """Undirected edges of a user's file, deduplicated as they stream in.

    Edges are kept as int64 keys ``min * n + max`` in a small buffer that is merged into a sorted,
    unique array whenever it grows as large as that array (amortised: each key is sorted O(log)
    times). Memory stays near the number of *distinct* edges, not the number of lines, so a file of
    a billion lines repeating a few thousand ties reads in a few megabytes.
    """

    CHUNK = 1 << 18

    def __init__(self, n: int):
        self.n = n
        self.unique = np.empty(0, dtype=np.int64)
        self.buffer = array("q")
        self.loops = 0

    def add(self, a: int, b: int) -> None:
        if a == b:
            self.loops += 1
            return
        self.buffer.append(a * self.n + b if a < b else b * self.n + a)
        if len(self.buffer) >= max(self.CHUNK, len(self.unique)):
            self._merge()

    def _merge(self) -> None:
        if self.buffer:
            fresh = np.frombuffer(self.buffer, dtype=np.int64)
            self.unique = np.unique(np.concatenate([self.unique, fresh]))
            self.buffer = array("q")

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        self._merge()
        return self.unique // self.n, self.unique % self.n


# A line longer than this is not an edge list (e.g. a binary file without newlines): refused
# without reading the rest of it.
MAX_LINE = 1 << 16

# A node id is written with the ASCII digits only. Python's int() also takes "1_0" (10), "+3",
# " 7 " and other scripts' digits, so a typo or a foreign format would be read as another
# person without a word. The minus sign is let through only to be named "outside the population".
_PLAIN_ID = re.compile(r"-?[0-9]+")
_UNSIGNED = re.compile(r"[0-9]+")

# Line breaks other than \r and \n that str.split() would take for spaces, joining two lines into
# one (the universal-newline reading handles \n, \r\n and old-Mac \r).
_OTHER_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"

# How an edge list's columns are read, declared by a comment line "# peerwell: FORMAT" before the
# first tie (the format belongs to the file, so it travels with it). Without one, a line is two
# node ids, then optionally a weight that is not a whole number; a whole number in the third
# column could be a weight or a further neighbour, and is refused rather than guessed.
EDGELIST_FORMATS = {
    "edges": "two node ids per line, then optionally a weight that is not a whole number "
    "(the default)",
    "weighted": "two node ids per line, then a weight or other columns, which are ignored",
    "adjacency": "a node id, then the ids of all its neighbours, on one line",
}
_DIRECTIVE = re.compile(r"#\s*peerwell\s*:\s*(.*?)\s*$", re.IGNORECASE)


def _check_path(path: str) -> None:
    if not os.path.exists(path):
        raise NetworkFileError(f"network file {path!r} does not exist (network.path)")
    if os.path.isdir(path):
        raise NetworkFileError(f"network.path={path!r} is a folder; give a network file")


def _node_id(path: str, lineno: int, text: str, n: int) -> int:
    if not _PLAIN_ID.fullmatch(text):
        raise NetworkFileError(
            f"{path}:{lineno}: node id {text!r} is not a whole number: node ids must be whole "
            f"numbers written with the digits 0-9 only (no '+', '_', spaces, exponent, decimal "
            f"point or '0x'), people 0 to {n - 1}"
        )
    # More digits than any population has: outside it (and int() refuses over 4300 digits).
    x = int(text) if len(text) <= 30 else -1
    if x < 0 or x >= n:
        shown = text if len(text) <= 30 else text[:30] + "..."
        raise NetworkFileError(
            f"{path}:{lineno}: node id {shown} is outside the population "
            f"(ids 0 to {n - 1} for population.size={n})"
        )
    return x


def _edgelist_lines(path: str, fh):
    """(line number, text) of each line: any line ending, one leading BOM dropped, text checked.

    The file is decoded as UTF-8 with undecodable bytes kept as surrogates so that the error can
    name the line they are on (a strict decoder fails on the whole 8 KB chunk, before the lines
    ahead of the bad bytes are counted).
    """
    for lineno, line in enumerate(iter(lambda: fh.readline(MAX_LINE + 1), ""), start=1):
        if len(line) > MAX_LINE:
            raise NetworkFileError(
                f"{path}:{lineno}: line longer than {MAX_LINE} characters; an edge list has "
                "one short line per tie (is this a binary file?)"
            )
        if lineno == 1 and line.startswith(("\udcff\udcfe", "\udcfe\udcff")):
            raise NetworkFileError(
                f"{path}:1: the file is UTF-16 text; an edge list must be UTF-8 (or ASCII): "
                "save it as UTF-8"
            )
        if "\x00" in line:
            raise NetworkFileError(f"{path}:{lineno}: binary data; an edge list is text")
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            try:  # the bytes again, for the decoder's own words on what is wrong
                line.encode("utf-8", "surrogateescape").decode("utf-8")
                reason = "not UTF-8"
            except UnicodeDecodeError as exc:
                reason = exc.reason
            raise NetworkFileError(f"{path}:{lineno}: not a text edge list ({reason})") from None
        brk = next((c for c in _OTHER_BREAKS if c in line), None)
        if brk is not None:
            raise NetworkFileError(
                f"{path}:{lineno}: the line holds the separator {brk!r}, which would join two "
                "lines into one; end each line with a newline"
            )
        yield lineno, line


def _declared_format(path: str, lineno: int, line: str, first_tie: int | None) -> str | None:
    """The format a "# peerwell: FORMAT" comment declares, or None for any other comment."""
    match = _DIRECTIVE.match(line.strip())
    if match is None:
        return None
    fmt = match.group(1).lower()
    if fmt not in EDGELIST_FORMATS:
        known = "; ".join(f"'# peerwell: {k}' ({v})" for k, v in EDGELIST_FORMATS.items())
        raise NetworkFileError(
            f"{path}:{lineno}: unknown edge-list format {match.group(1)!r}; known: {known}"
        )
    if first_tie is not None:
        raise NetworkFileError(
            f"{path}:{lineno}: '# peerwell: {fmt}' must come before the first tie "
            f"(line {first_tie}), so that every line is read the same way"
        )
    return fmt


def read_edgelist(path: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Read a whitespace-separated edge list, streaming, validating every line as it comes.

    Nodes are people numbered from 0 to ``n - 1``, written with the digits 0-9; ``#`` starts a
    comment; lines may end in ``\\n``, ``\\r\\n`` or ``\\r``, and a UTF-8 byte-order mark is
    dropped. A comment line ``# peerwell: FORMAT`` before the first tie says how columns are read
    (:data:`EDGELIST_FORMATS`): by default a line is two node ids, optionally followed by a
    weight that is not a whole number (ignored); ``weighted`` ignores every column after the
    second; ``adjacency`` reads a node followed by all its neighbours. Without a declaration, a
    whole number in the third column (``0 1 2 3 4``: an adjacency-list line) is refused, since
    reading it as a weight would keep one tie of several. Self-loops are dropped with a warning;
    duplicate edges count once. The first bad line stops the reading (nothing after it is read),
    and memory grows with the number of distinct edges, not of lines.

    Returns
    -------
    u, v : ndarray of int64
        Each distinct undirected edge once, ``u < v``.

    Raises
    ------
    NetworkFileError
        The file is missing, unreadable, binary, or a line is not node ids in ``[0, n)`` in the
        declared format.
    """
    _check_path(path)
    edges = _EdgeSet(n)
    fmt, first_tie = "edges", None
    try:
        # newline=None: \r\n and \r end a line like \n; utf-8-sig: a leading BOM is not text.
        with open(path, encoding="utf-8-sig", errors="surrogateescape", newline=None) as fh:
            for lineno, line in _edgelist_lines(path, fh):
                if line.lstrip().startswith("#"):
                    fmt = _declared_format(path, lineno, line, first_tie) or fmt
                    continue
                text = line.split("#", 1)[0].strip()
                if not text:
                    continue
                first_tie = first_tie or lineno
                cols = text.split()
                if fmt == "adjacency":
                    a = _node_id(path, lineno, cols[0], n)
                    for col in cols[1:]:
                        edges.add(a, _node_id(path, lineno, col, n))
                    continue
                if len(cols) < 2:
                    raise NetworkFileError(
                        f"{path}:{lineno}: expected two node ids separated by whitespace, "
                        f"got {text!r}"
                    )
                a = _node_id(path, lineno, cols[0], n)
                b = _node_id(path, lineno, cols[1], n)
                if fmt == "edges" and len(cols) > 2 and _UNSIGNED.fullmatch(cols[2]):
                    raise NetworkFileError(
                        f"{path}:{lineno}: {text!r} has {len(cols)} columns and the third is a "
                        "whole number: is it a node followed by its neighbours (an adjacency "
                        "list) or a tie with a weight? An edge list is two node ids per line. "
                        "Put '# peerwell: adjacency' before the first tie to read the file as "
                        "an adjacency list, or '# peerwell: weighted' if the third column is a "
                        "weight (ignored), or write one tie per line"
                    )
                edges.add(a, b)
    except OSError as exc:
        raise NetworkFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    u, v = edges.finish()
    if not len(u):
        raise NetworkFileError(f"{path}: no edges found (empty file or only comments)")
    if edges.loops:
        log.warning("%s: dropped %d self-loop(s)", path, edges.loops)
    _warn_untied(path, n, u, v)
    return u, v


def _warn_untied(path: str, n: int, u: np.ndarray, v: np.ndarray) -> None:
    """Warn when people are in no tie of a network file.

    A file of 500 people run with population.size=5000 is read without error (every id is in
    the population) and leaves 4,500 people alone, who then take part in nothing the network
    carries: most likely a population.size that does not match the file, so the warning names
    both. (Generated networks are left alone: an isolated person there is the model's chance.)
    """
    degree = np.bincount(u, minlength=n) + np.bincount(v, minlength=n)
    alone = int(np.count_nonzero(degree == 0))
    if not alone:
        return
    largest = int(max(u.max(), v.max()))
    if largest < n - 1:
        log.warning(
            "%s: %d of %d people are in no tie: the file's largest node id is %d while "
            "population.size is %d, so people %d to %d have no tie (if the file holds everyone, "
            "set population.size=%d)",
            path, alone, n, largest, n, largest + 1, n - 1, largest + 1,
        )  # fmt: skip
    else:
        log.warning("%s: %d of %d people are in no tie of the file", path, alone, n)


def read_graphml(path: str, n: int) -> CSRGraph:
    """Read a GraphML network whose node ids are the integers 0 to ``n - 1``, streaming.

    The file is parsed as it is read (expat), so the first bad node or edge stops the reading and
    names its line; memory grows with the number of distinct edges. Edge direction and attributes
    are ignored (the network is undirected); self-loops are dropped with a warning and duplicate
    edges count once. The file must hold one ``<graph>``, with every node and edge inside it: a
    second graph (GraphML allows several, e.g. snapshots of one network) or an edge outside any
    graph is refused rather than merged into one network. Hyperedges and nested graphs are
    refused.

    Raises
    ------
    NetworkFileError
        The file is missing or not valid GraphML, or node ids are not integers in ``[0, n)``.
    """
    from xml.parsers import expat

    _check_path(path)
    edges = _EdgeSet(n)
    parser = expat.ParserCreate(namespace_separator=" ")
    depth = {"graph": 0, "node": 0, "edge": 0}
    seen = {"graphml": False, "graph": False}
    first_graph: list[int] = []  # the line of the file's one <graph>

    def start(name: str, attrs: dict) -> None:
        tag = name.rpartition(" ")[2]
        line = parser.CurrentLineNumber
        if tag in seen:
            seen[tag] = True
        if tag == "graph":
            if depth["node"] or depth["edge"] or depth["graph"]:
                raise NetworkFileError(f"{path}:{line}: nested graphs are not supported")
            if first_graph:
                raise NetworkFileError(
                    f"{path}:{line}: a second <graph> (the first starts on line "
                    f"{first_graph[0]}); peerwell reads one network per file, and merging "
                    "several would make ties that were never in any one of them: keep one "
                    "<graph> in the file"
                )
            first_graph.append(line)
            depth["graph"] += 1
        elif tag in ("node", "edge") and not depth["graph"]:
            raise NetworkFileError(
                f"{path}:{line}: a <{tag}> outside any <graph>; in GraphML every node and edge "
                "sits inside the file's <graph> element"
            )
        elif tag == "node":
            depth["node"] += 1
            if "id" not in attrs:
                raise NetworkFileError(f"{path}:{line}: a <node> without an id")
            _node_id(path, line, attrs["id"], n)
        elif tag == "edge":
            depth["edge"] += 1
            if "source" not in attrs or "target" not in attrs:
                raise NetworkFileError(f"{path}:{line}: an <edge> needs source and target")
            a = _node_id(path, line, attrs["source"], n)
            b = _node_id(path, line, attrs["target"], n)
            edges.add(a, b)
        elif tag == "hyperedge":
            raise NetworkFileError(f"{path}:{line}: hyperedges are not supported")

    def end(name: str) -> None:
        tag = name.rpartition(" ")[2]
        if tag in depth:
            depth[tag] -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        with open(path, "rb") as fh:
            parser.ParseFile(fh)
    except expat.ExpatError as exc:
        raise NetworkFileError(
            f"{path}:{exc.lineno}: not a readable GraphML file ({expat.errors.messages[exc.code]})"
        ) from None
    except OSError as exc:
        raise NetworkFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not (seen["graphml"] and seen["graph"]):
        raise NetworkFileError(f"{path}: not a GraphML file (no <graphml> with a <graph> in it)")
    u, v = edges.finish()
    if edges.loops:
        log.warning("%s: dropped %d self-loop(s)", path, edges.loops)
    if not len(u):
        raise NetworkFileError(f"{path}: no edges found")
    _warn_untied(path, n, u, v)
    return csr_from_edges(n, u, v)

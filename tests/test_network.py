"""Base networks: generators give the structure they promise; user files are validated line by line."""

import logging

import networkx as nx
import numpy as np
import pytest
from util import params

from peerwell.simulation.errors import NetworkFileError
from peerwell.simulation.network import build_network, csr_from_edges, read_edgelist, read_graphml
from peerwell.simulation.population import init_state


def test_csr_is_symmetric_and_deduplicated():
    g = csr_from_edges(4, np.array([0, 1, 0, 2]), np.array([1, 0, 1, 3]))
    assert g.edges == 2
    assert list(g.indices[g.indptr[0] : g.indptr[1]]) == [1]
    assert list(g.degree()) == [1, 1, 1, 1]


def test_sbm_has_the_mean_degree_and_within_community_share():
    p = params(population__size=4000, network__mean_degree=10.0, network__within_share=0.8)
    st = init_state(p)
    g = build_network(p, st.static["home"])
    deg = g.degree()
    assert deg.mean() == pytest.approx(10.0, rel=0.05)
    home = st.static["home"]
    src = np.repeat(np.arange(g.n), deg)
    within = (home[src] == home[g.indices]).mean()
    assert within == pytest.approx(0.8, abs=0.03)


@pytest.mark.parametrize("kind", ["barabasi_albert", "watts_strogatz", "complete"])
def test_generators_give_connected_graphs_with_expected_degree(kind):
    n = 500 if kind != "complete" else 60
    p = params(population__size=n, network__kind=kind, network__mean_degree=6.0)
    g = build_network(p, init_state(p).static["home"])
    expected = n - 1 if kind == "complete" else 6
    assert g.degree().mean() == pytest.approx(expected, rel=0.1)
    assert nx.is_connected(g.to_networkx())


def test_edgelist_reads_comments_duplicates_and_drops_self_loops(tmp_path, caplog):
    f = tmp_path / "e.txt"
    f.write_text("# a comment\n0 1\n1 0  # duplicate, reversed\n2 2\n\n3 4 0.5\n")
    with caplog.at_level(logging.WARNING):
        u, v = read_edgelist(str(f), 5)
    assert "self-loop" in caplog.text
    g = csr_from_edges(5, u, v)
    assert g.edges == 2


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("0 1\n1\n", [":2:", "two node ids"]),
        ("0 1\n1 x\n", [":2:", "whole numbers"]),
        ("0 1\n-1 2\n", [":2:", "outside the population"]),
        ("0 1\n0 10\n", [":2:", "node id 10", "0 to 9"]),
        ("# nothing\n", ["no edges"]),
        ("", ["no edges"]),
    ],
)
def test_malformed_edgelists_name_file_and_line(tmp_path, content, words):
    f = tmp_path / "bad.txt"
    f.write_text(content)
    with pytest.raises(NetworkFileError) as err:
        read_edgelist(str(f), 10)
    assert str(f) in str(err.value)
    for w in words:
        assert w in str(err.value)


def test_binary_and_missing_files(tmp_path):
    f = tmp_path / "bin.txt"
    f.write_bytes(b"\x00\x01\x02\xff\xfe")
    with pytest.raises(NetworkFileError, match=r"bin\.txt"):
        read_edgelist(str(f), 10)
    with pytest.raises(NetworkFileError, match="does not exist"):
        read_edgelist(str(tmp_path / "missing.txt"), 10)
    with pytest.raises(NetworkFileError, match="folder"):
        read_edgelist(str(tmp_path), 10)


def test_graphml_round_trip_and_errors(tmp_path):
    g = nx.cycle_graph(12)
    path = tmp_path / "g.graphml"
    nx.write_graphml(g, path)
    csr = read_graphml(str(path), 12)
    assert csr.edges == 12
    with pytest.raises(NetworkFileError, match="outside"):
        read_graphml(str(path), 5)
    bad = tmp_path / "bad.graphml"
    bad.write_text("<graphml><graph><node id='a'/></graph")
    with pytest.raises(NetworkFileError, match=r"bad\.graphml"):
        read_graphml(str(bad), 5)
    named = nx.relabel_nodes(nx.path_graph(3), {0: "alice", 1: "bob", 2: "carol"})
    nx.write_graphml(named, tmp_path / "named.graphml")
    with pytest.raises(NetworkFileError, match="alice"):
        read_graphml(str(tmp_path / "named.graphml"), 5)

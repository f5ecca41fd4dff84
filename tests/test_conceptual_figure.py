"""Fig. 1 of Naslund et al. (2016) is defined once (``peerwell.analysis.conceptual``'s table) and
drawn twice from it: the docs' static figure and the Classroom's live diagram."""

from __future__ import annotations

import dataclasses
import html
import re
from collections import defaultdict
from pathlib import Path

import pytest

from peerwell.analysis import conceptual

ROOT = Path(__file__).resolve().parent.parent


def _flows(**switches: bool) -> conceptual.Flows:
    """A week of made-up flows and states: every number 3, every switch on unless given."""
    on: defaultdict[str, bool] = defaultdict(lambda: True, switches)
    return conceptual.Flows(defaultdict(lambda: 3.0), defaultdict(lambda: 9.0),
                            defaultdict(lambda: 0.3), on, 12)  # fmt: skip


def _docs() -> str:
    return html.unescape(conceptual.figure_svg(link_prefix="ODD.html"))


def _live(**switches: bool) -> str:
    return html.unescape(conceptual.live_svg(_flows(**switches), 2, 5))


def test_every_box_of_the_table_is_drawn_in_both_figures():
    docs, live = _docs(), _live()
    for b in conceptual.BOXES:
        for line in b.label.splitlines():
            assert f"<!-- {line} -->" in docs, (b.key, line)
        assert f'href="ODD.html#{b.anchor}"' in docs
        if b.live:
            assert f"pw-box-{b.live}" in live, b.key
        for line in b.title:
            assert f">{line}</text>" in live, (b.key, line)
    for e in conceptual.ARROWS:
        if e.switch:
            assert f"<!-- {e.switch} -->" in docs
    # every live box shows at least one box of the table, and has its title
    assert set(conceptual.LIVE_BOXES) == {b.live for b in conceptual.BOXES if b.live}
    assert all(any(b.title for b in conceptual.shown_in(k)) for k in conceptual.LIVE_BOXES)


def test_changing_the_table_changes_both_figures(monkeypatch):
    boxes = {b.key: b for b in conceptual.BOXES}
    boxes["activation"] = dataclasses.replace(
        boxes["activation"], label="Consumer\nactivation X", title=("Activation X",)
    )
    boxes["care"] = dataclasses.replace(boxes["care"], kind="benefit")
    monkeypatch.setattr(conceptual, "BOXES", tuple(boxes.values()))
    docs, live = _docs(), _live()
    assert "<!-- activation X -->" in docs and "<!-- Increasing consumer -->" not in docs
    assert ">Activation X</text>" in live and ">Activation</text>" not in live
    # care is now an opportunity: green in both (docs edge, live stroke)
    care = live.split("pw-box-care'", 1)[1].split("</g>", 1)[0]
    assert f"stroke='{conceptual.LIVE_GREEN}'" in care
    # and a switch the table gives a box turns that box off in the live diagram
    assert "switched off" in _live(activation_pathway=False)
    monkeypatch.setattr(
        conceptual,
        "BOXES",
        tuple(dataclasses.replace(b, switch=None) if b.key == "activation" else b
              for b in conceptual.BOXES),
    )  # fmt: skip
    assert "switched off" not in _live(activation_pathway=False)


def test_live_arrows_take_colour_and_switch_from_the_table(monkeypatch):
    live = _live(hostility=False)
    hostile = live.split("data-arrow='hostility'", 1)[1].split("/>", 1)[0]
    assert f"stroke='{conceptual.LIVE_GREY}'" in hostile  # off: grey
    assert f"stroke='{conceptual.LIVE_RED}'" in _live().split("data-arrow='hostility'", 1)[1]
    arrows = [dataclasses.replace(e, switch="stigma_pathway") if (e.a, e.b) == ("exchange", "hostility")
              else e for e in conceptual.ARROWS]  # fmt: skip
    monkeypatch.setattr(conceptual, "ARROWS", tuple(arrows))
    assert "data-arrow='stigma_pathway'" in _live()


def test_odd_mermaid_diagram_draws_the_table():
    odd = (ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")
    conceptual.check_mermaid(odd)
    # the block mermaid() writes is read back as the same figure
    conceptual.check_mermaid("```mermaid\n" + conceptual.mermaid() + "```\n")
    drifted = odd.replace("Risk: hostile or<br/>derogatory comments", "Risk: hostile comments", 1)
    with pytest.raises(ValueError, match="no longer draws the conceptual model"):
        conceptual.check_mermaid(drifted)
    dropped = odd.replace("  CARE --> O\n", "", 1)
    with pytest.raises(ValueError, match="only in the table"):
        conceptual.check_mermaid(dropped)


def test_paramdoc_boxes_are_the_table():
    from peerwell.scenarios.evidence import paramdoc

    assert paramdoc.BOXES == conceptual.parameter_boxes()
    assert list(paramdoc.BOXES) == [b.key for b in conceptual.BOXES if b.name]


def test_classroom_draws_with_the_shared_renderer():
    from peerwell.scenarios.dashboard import classroom

    assert classroom.diagram_svg is conceptual.live_svg
    assert classroom.Flows is conceptual.Flows


def _label_text(svg: str, key: str) -> str:
    """The text of the flow label on the live arrow ``key``."""
    label = svg.split(f"<g class='pw-flow-label' data-arrow='{key}'>", 1)[1].split("</g>", 1)[0]
    return " ".join(re.findall(r">([^<]+)</text>", label))


def test_trust_and_privacy_are_risks_whose_live_arrows_carry_recorded_flows():
    from peerwell.simulation.model import PeerwellModel
    from peerwell.simulation.params import MECHANISMS, ModelParams, with_overrides
    from peerwell.simulation.recorder import FLOWS

    trust, privacy = conceptual.box("trust"), conceptual.box("privacy")
    assert (trust.kind, trust.switch, trust.live) == ("risk", "trust", "trust")
    assert (privacy.kind, privacy.switch, privacy.live) == ("risk", "privacy", "privacy")
    assert "privacy" in conceptual.parameter_boxes()  # the privacy parameters' box
    assert conceptual.arrow("exchange", "trust").switch == "trust"
    assert conceptual.arrow("exchange", "privacy").switch == "privacy"
    for a, b in [("misinformation", "trust"), ("trust", "misinformation"), ("privacy", "entry"),
                 ("privacy", "stigma"), ("wellbeing", "care")]:  # fmt: skip
        assert conceptual.arrow(a, b).risk, (a, b)
    # Only what the recorder writes: a flow, state or switch it does not have is a KeyError.
    week = {k: float(10 + i) for i, k in enumerate(FLOWS)}
    model = PeerwellModel(with_overrides(ModelParams(), {"population.size": 60}))
    shown = {"disclosed_share": 0.125, "privacy_harm_share": 0.02, "trust_mean": 0.47}
    assert set(shown) <= set(model.summary)
    state = dict(model.summary) | shown
    flows = conceptual.Flows(week, dict(week), state, {m: True for m in MECHANISMS}, 7)
    svg = html.unescape(conceptual.live_svg(flows, 0, 3))
    assert _label_text(svg, "privacy") == f"{week['flow_disclosures']:.0f} disclosed"
    assert _label_text(svg, "harms") == f"{week['flow_privacy_harms']:.0f} harmed"
    assert _label_text(svg, "trust") == f"{week['flow_corrected']:.0f} corrected"
    assert _label_text(svg, "acute") == f"{week['flow_acute_care']:.0f} acute care"
    for title in ("Trust in online", "Privacy and", "disclosure"):
        assert f">{title}</text>" in svg
    assert ">information 0.47</text>" in svg
    assert ">12.5% disclosed</text>" in svg and ">2.0% harmed</text>" in svg
    # a switch off greys its box and the arrows it turns off
    no_privacy = {m: m != "privacy" for m in MECHANISMS}
    off = html.unescape(
        conceptual.live_svg(conceptual.Flows(week, dict(week), state, no_privacy, 7))
    )
    box_ = off.split("pw-box-privacy'", 1)[1].split("</g>", 1)[0]
    assert "switched off" in box_
    for key in ("privacy", "harms"):
        path = off.split(f"class='pw-arrow pw-arrow-{key}'", 1)[1].split("/>", 1)[0]
        assert f"stroke='{conceptual.LIVE_GREY}'" in path, key

"""The Explore page's live trajectory figure: matplotlib with blitting, so it keeps up with play.

A full matplotlib draw is mostly text layout (tick labels, titles) and, inside a Solara server,
every rcParams lookup goes through a per-session proxy: a three-panel figure costs 0.2-0.6 s,
too slow to redraw several times a second. Here the axes, ticks and labels are drawn once into a
background; each frame restores it and draws only the lines, bands and values (Agg blitting),
then encodes the pixels as PNG. The background is redrawn only when an axis has to grow.
"""

from __future__ import annotations

import io
import threading

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

# (history column, its SD column or None, title, scale, value format, colour, smallest y span)
PANELS = (
    ("activation_mean", "activation_sd", "Activation (PAM 0-100)", 1.0, "{:.1f}", "#2563eb", 8.0),
    ("care_seeking_share", None, "Seeking or in care (%)", 100.0, "{:.1f}%", "#16a34a", 4.0),
    ("wellbeing_mental_mean", "wellbeing_mental_sd", "Wellbeing (0-1)", 1.0, "{:.3f}", "#9333ea", 0.08),
)  # fmt: skip
PHYSICAL = ("wellbeing_physical_mean", "#ea580c")
BAND = 0.5  # bands are ±½ SD across people


class LiveChart:
    """One session's trajectory figure; ``render(history)`` returns PNG bytes (thread-safe)."""

    def __init__(self, steps: int):
        self.steps = max(int(steps), 1)
        self.lock = threading.Lock()
        self.fig = Figure(figsize=(5.4, 7.0), dpi=80)
        self.canvas = FigureCanvasAgg(self.fig)
        self.fig.subplots_adjust(left=0.13, right=0.97, top=0.95, bottom=0.08, hspace=0.4)
        self.axes = self.fig.subplots(3, 1, sharex=True)
        self.lines, self.titles = [], []
        for ax, (_, _, title, _, _, color, _) in zip(self.axes, PANELS):
            (line,) = ax.plot(
                [], [], color=color, lw=2.4, marker="o", ms=6, markevery=[-1], animated=True
            )
            self.lines.append(line)
            self.titles.append(
                ax.text(0, 1.04, title, transform=ax.transAxes, fontsize=16, animated=True)
            )
            ax.tick_params(labelsize=12)
            ax.grid(alpha=0.3)
            ax.locator_params(axis="y", nbins=4)
        (self.physical,) = self.axes[2].plot(
            [], [], color=PHYSICAL[1], lw=2, ls="--", animated=True
        )
        self.axes[2].plot([], [], color=PANELS[2][5], lw=2.4, label="mental")
        self.axes[2].plot([], [], color=PHYSICAL[1], lw=2, ls="--", label="physical")
        self.axes[2].legend(fontsize=12, loc="lower left", ncol=2, frameon=False)
        self.axes[-1].set_xlabel("day   (bands: ±½ SD across people)", fontsize=12)
        self.axes[-1].locator_params(axis="x", nbins=5)
        self.xmax = min(30, self.steps)
        self.ylims: list[tuple[float, float] | None] = [None] * len(PANELS)
        self.background = None
        self.full_draws = 0

    # -- limits ---------------------------------------------------------------------------------
    def _fit(self, days, series) -> bool:
        """Grow the axes to fit the data; True when the background must be redrawn."""
        changed = False
        while days[-1] > self.xmax and self.xmax < self.steps:
            self.xmax = min(self.steps, self.xmax * 2)
            changed = True
        for k, (lo, hi, min_span) in enumerate(series):
            current = self.ylims[k]
            if current is None or lo < current[0] or hi > current[1]:
                mid, span = (lo + hi) / 2, max(hi - lo, min_span)
                self.ylims[k] = (mid - span * 0.75, mid + span * 0.75)
                changed = True
        if changed:
            for ax, lim in zip(self.axes, self.ylims):
                ax.set_ylim(*lim)
            self.axes[-1].set_xlim(0, max(self.xmax, 1))
        return changed

    # -- drawing --------------------------------------------------------------------------------
    def render(self, history: dict[str, list[float]]) -> bytes:
        days = np.asarray(history["day"], dtype=float)
        data = []
        for col, sd, _, scale, _, _, min_span in PANELS:
            y = np.asarray(history.get(col, []), dtype=float) * scale
            if sd and sd in history:
                half = np.asarray(history[sd], dtype=float) * scale * BAND
            else:
                half = np.zeros_like(y)
            data.append((y, half, min_span))
        phys = np.asarray(history.get(PHYSICAL[0], []), dtype=float)
        extents = []
        for k, (y, _half, min_span) in enumerate(data):
            lo, hi = float(y.min()), float(y.max())  # the band may run off: the mean matters
            if k == 2 and phys.size:
                lo, hi = min(lo, float(phys.min())), max(hi, float(phys.max()))
            extents.append((lo, hi, min_span))
        with self.lock:
            if self._fit(days, extents) or self.background is None:
                self.canvas.draw()
                self.background = self.canvas.copy_from_bbox(self.fig.bbox)
                self.full_draws += 1
            self.canvas.restore_region(self.background)
            for k, (ax, line, title, (y, half, _)) in enumerate(
                zip(self.axes, self.lines, self.titles, data)
            ):
                col, sd, name, _, fmt, color, _ = PANELS[k]
                if sd:
                    band = ax.fill_between(
                        days, y - half, y + half, color=color, alpha=0.13, lw=0, animated=True
                    )
                    ax.draw_artist(band)
                    band.remove()
                line.set_data(days, y)
                ax.draw_artist(line)
                if k == 2 and phys.size:
                    self.physical.set_data(days, phys)
                    ax.draw_artist(self.physical)
                title.set_text(f"{name}: {fmt.format(y[-1])}")
                ax.draw_artist(title)
            rgba = np.asarray(self.canvas.buffer_rgba()).copy()
        buf = io.BytesIO()
        Image.fromarray(rgba, "RGBA").save(buf, format="PNG", compress_level=1)
        return buf.getvalue()

"""Take the dashboard screenshots shown in README.md and docs/dashboard.md.

    .venv/bin/python scripts/dashboard_screenshots.py [--out docs/images]

Starts `peerwell dashboard` on a free loopback port in a scratch folder, drives each page in
headless Chromium (Debian's /usr/bin/chromium) into a state worth showing, and writes
``dashboard-explore.png``, ``dashboard-compare.png`` and ``dashboard-classroom.png``.
The Compare shot runs a real comparison (3 scenarios × 5 replicates, 1,000 people, 180 days).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "images"))
    out = Path(ap.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    from peerwell.scenarios.dashboard.headless import headless_page, served_dashboard

    with (
        served_dashboard(Path(tempfile.mkdtemp(prefix="pw-shots-"))) as url,
        headless_page() as page,
    ):
        page.set_default_timeout(120_000)
        # Explore: 1,000 people, two months in, a person hovered
        page.goto(f"{url}/?population.size=1000", wait_until="networkidle")
        page.locator(".pw-day").wait_for()
        page.get_by_role("button", name="Play", exact=True).click()
        page.wait_for_function("() => +document.querySelector('.pw-day').innerText >= 60")
        page.get_by_role("button", name="Pause", exact=True).click()
        page.get_by_role("button", name="Play", exact=True).wait_for()
        time.sleep(1.5)
        from peerwell.scenarios.dashboard.live import VIEW_H, VIEW_W, LiveModel, scenario_params

        layout = LiveModel(scenario_params("baseline", {"population.size": 1000})).layout
        box = page.locator("canvas.pw-nodes").bounding_box()
        page.mouse.move(
            box["x"] + layout.x[120] * box["width"] / VIEW_W,
            box["y"] + layout.y[120] * box["height"] / VIEW_H,
        )
        page.locator(".pw-tooltip").wait_for()
        page.screenshot(path=str(out / "dashboard-explore.png"))
        # Classroom: five weeks of the baseline, then "What moderation does" for three more
        page.get_by_role("button", name="Classroom").click()
        page.locator("svg.pw-diagram").wait_for()
        page.get_by_role("button", name="Play", exact=True).click()
        page.wait_for_function("() => +document.querySelector('.pw-day').innerText >= 35")
        page.get_by_role("button", name="What moderation does").click()
        page.wait_for_function("() => +document.querySelector('.pw-day').innerText >= 56")
        page.get_by_role("button", name="Pause", exact=True).click()
        time.sleep(1.0)
        page.screenshot(path=str(out / "dashboard-classroom.png"), full_page=True)
        # Compare: baseline vs moderated community vs misinformation surge
        page.get_by_role("button", name="Compare").click()
        page.get_by_label("Scenarios (the first is the reference)").click(force=True)
        page.locator(".v-menu__content .v-list-item", has_text="misinformation_surge").first.click()
        page.keyboard.press("Escape")
        for label, value in (
            ("Replicates", "5"),
            ("People (people)", "1000"),
            ("Days (days)", "180"),
        ):
            box = page.get_by_label(label, exact=True)
            box.fill(value)
            box.press("Enter")
        page.get_by_role("button", name="Run comparison").click()
        page.get_by_text("Done:").wait_for(timeout=600_000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('button')].some("
            "b => b.innerText.includes('Run comparison') && !b.disabled)"
        )
        page.set_viewport_size({"width": 1400, "height": 1250})
        page.locator(".pw-compare-note").scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, -120)")
        time.sleep(1.0)
        page.screenshot(path=str(out / "dashboard-compare.png"))
    for name in ("explore", "classroom", "compare"):
        print(out / f"dashboard-{name}.png")


if __name__ == "__main__":
    main()

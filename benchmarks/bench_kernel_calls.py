"""What calling the kernels by name costs (``simulation/calls.py``), against bare positional calls.

    python -m benchmarks.bench_kernel_calls [--people 1000] [--days 200] [--repeats 9]

Runs one day's kernel calls (every submodel on, untimed, as ``loop.run_day`` makes them) two
ways, alternating: through the named wrappers (``C.social(st, th=th)``: the checks of the
keywords and a copy of the bound arguments), and positionally on the same compiled kernels with
the same arguments bound beforehand (what the loop did before). A small population makes the
Python layer as large a share of a day as it gets. Prints the median per-day time of each and
the median ratio with its range. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=1000)
    ap.add_argument("--days", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=9)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    from peerwell.simulation import calls as C
    from peerwell.simulation.loop import HOSTILITY, MISINFO, PRIVACY, step_keys
    from peerwell.simulation.model import PeerwellModel

    a = parse(argv)
    m = PeerwellModel(**{"population.size": a.people, "steps": 1}, agent_views=False)
    m.run_model()  # loads the compiled kernels
    st, g, th = m.state, m.graph, m.theta
    key = step_keys(m.params.seed, 0)
    k = key[HOSTILITY]
    # One untimed day's calls, keyword arguments as run_day gives them (the keys need not differ).
    day = [
        (C.membership, {"th": th, "key": k}),
        (C.posting, {"th": th, "key": k, "pack": True}),
        (C.feed, {"th": th}),
        (C.exchange, {
            "th": th, "key": k, "peer_norms": True, "indptr": g.indptr, "indices": g.indices,
            "beliefs": True, "belief_key": key[MISINFO], "all_flows": True,
        }),
        (C.privacy, {"th": th, "key": key[PRIVACY]}),
        (C.social, {"th": th}),
        (C.activation, {"th": th}),
        (C.care, {"th": th, "key": k}),
        (C.intervention, {"th": th, "key": k}),
        (C.wellbeing, {"th": th}),
        (C.offline, {"th": th, "key": k}),
    ]  # fmt: skip

    bare = [
        (c.binding.kernel, tuple(given[p] for p in c.binding.names) + c.binding.bind(st))
        for c, given in day
    ]

    def by_name() -> None:
        for call, given in day:
            call(st, **given)

    def by_position() -> None:
        for kernel, args in bare:
            kernel(*args)

    def seconds_per_day(run) -> float:
        t = time.perf_counter()
        for _ in range(a.days):
            run()
        return (time.perf_counter() - t) / a.days

    seconds_per_day(by_name)
    seconds_per_day(by_position)
    named, plain, ratios = [], [], []
    for r in range(a.repeats):
        first, second = (by_name, by_position) if r % 2 == 0 else (by_position, by_name)
        t1, t2 = seconds_per_day(first), seconds_per_day(second)
        n, p = (t1, t2) if first is by_name else (t2, t1)
        named.append(n)
        plain.append(p)
        ratios.append(n / p)
    res = {
        "people": a.people,
        "named_ms": 1e3 * statistics.median(named),
        "positional_ms": 1e3 * statistics.median(plain),
        "ratio": statistics.median(ratios),
        "ratio_range": (min(ratios), max(ratios)),
    }
    print(
        f"kernel calls of one day, {a.people:,} people, {a.repeats} alternating runs of {a.days} days:\n"
        f"  by name    {res['named_ms']:.3f} ms/day\n"
        f"  positional {res['positional_ms']:.3f} ms/day\n"
        f"  ratio      {res['ratio']:.4f} (range {min(ratios):.4f}-{max(ratios):.4f})"
    )
    return res


if __name__ == "__main__":
    main()

"""`tourflow bench`'s report as printed (engine/bench/core.py measures it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.bench.lookups import lookup_footnote


def print_report(report: dict[str, Any], echo: Callable[[str], Any]) -> None:
    db = report["database"]
    echo("")
    echo(f"tourflow bench: {report['instances']} instances per side after {report['warmup']} warm-up; "
         f"persisted on {db['backend']} ({db['source']})")
    header = (f"{'process':<22}{'raw inst/s':>12}{'persisted/s':>13}{'ratio':>8}{'target':>8}"
              f"{'step p50':>11}{'step p95':>11}{'start p50':>11}{'compl. p50':>12}")
    echo(header)
    echo("-" * len(header))
    for pid, row in report["processes"].items():
        p = row["persisted"]
        complete = f"{p['complete_ms']['p50']:.2f}ms" if p["complete_ms"] else "-"
        echo(f"{pid:<22}{row['raw']['instances_per_s']:>12.1f}{p['instances_per_s']:>13.1f}"
             f"{row['ratio']:>8.1%}{row['target']:>8.0%}{p['step_ms']['p50']:>9.2f}ms{p['step_ms']['p95']:>9.2f}ms"
             f"{p['start_ms']['p50']:>9.2f}ms{complete:>12}")
    echo("")
    echo(f"{'serialized instance':<36}{'tourflow':>10}{'stock':>10}{'saving':>9}")
    for pid, row in report["processes"].items():
        for state, size in row["serialized"].items():
            echo(f"{pid + ' ' + state:<36}{size['tourflow_bytes']:>9}B{size['stock_bytes']:>9}B"
                 f"{size['saving']:>9.0%}")
    echo("")
    for pid, row in report["processes"].items():
        verdict = "meets" if row["meets_target"] else "MISSES"
        echo(f"{pid}: persisted = {row['ratio']:.1%} of raw; {verdict} the target of "
             f"{row['target']:.0%}")
    for line in lookup_footnote(report):
        echo(line)
    for pid, row in report["processes"].items():
        kept = row["persisted"]["kept_workflows"]
        if kept["taken"] or kept["loaded"]:
            echo(f"{pid}: {kept['taken']} steps took the workflow kept in memory, {kept['loaded']} loaded it "
                 "(TOURFLOW_LIVE_WORKFLOWS=0 loads every one)")


__all__ = ["print_report"]

"""Checks of the trees inside one imported table: the sponsor upline, course prerequisites.

Each reports a loop once, by its chain (cut in the middle when long), on the row of its
smallest member; `importer` runs them once the table's ids are unique.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cxm.errors import ImportIssue
from cxm.warehouse._checks import PER_CHECK, ROW, Found


def check_sponsor_tree(names: dict[str, str], sellers: pl.DataFrame, found: Found) -> None:
    """Report sellers who are their own upline: the sponsor chain comes back to them."""
    ids = sellers.get_column("seller_id")
    index = pl.DataFrame({"sponsor_id": ids, "parent": np.arange(len(ids))})
    parent = (
        sellers.select("sponsor_id")
        .join(index, on="sponsor_id", how="left", maintain_order="left")
        .get_column("parent")
    )
    parent = parent.fill_null(-1).to_numpy().astype(np.int64)
    anc = parent.copy()
    for _ in range(int(np.ceil(np.log2(max(len(anc), 2)))) + 1):
        anc = np.where(anc >= 0, anc[np.maximum(anc, 0)], -1)
    # After 2^k >= n steps, a seller still below someone leads into a loop, and the ancestor
    # reached lies on that loop; walking from those few nodes lists each loop once.
    on_loops = np.unique(anc[anc >= 0])
    reported: set[int] = set()
    loops = []
    for start in on_loops:
        if int(start) in reported:
            continue
        cycle, node = [], int(start)
        while node not in reported:
            reported.add(node)
            cycle.append(node)
            node = int(parent[node])
        loops.append(cycle)
    found.add_unlisted(len(loops) - PER_CHECK)
    for cycle in loops[:PER_CHECK]:
        first = min(cycle)
        at = cycle.index(first)
        chain = chain_text([ids[i] for i in cycle[at:] + cycle[:at]])
        found.add(
            ImportIssue(
                file=names["sellers"],
                row=int(sellers.get_column(ROW)[first]),
                column="sponsor_id",
                value=ids[int(parent[first])],
                code="sponsor_cycle",
                message=f"makes a loop in the upline ({chain}); "
                "every sponsor chain must end at a seller with no sponsor",
            )
        )


#: A loop longer than this is shown by its first and last members and its length.
CHAIN_SHOWN = 6


def chain_text(members: list[str]) -> str:
    """Return a loop as "A -> B -> ... -> A", cut in the middle when long (a 200,000-seller
    loop once made a 2.4 MB message)."""
    if len(members) > CHAIN_SHOWN:
        half = CHAIN_SHOWN // 2
        skipped = len(members) - 2 * half
        members = [*members[:half], f"... {skipped:,} more ...", *members[-half:]]
    return " -> ".join(members) + f" -> {members[0]}"


def check_prerequisites(names: dict[str, str], courses: pl.DataFrame, found: Found) -> None:
    """Report courses that require themselves, directly or through other courses."""
    courses = courses.filter(pl.col("course_id").is_not_null())  # a bad id was reported
    ids = courses.get_column("course_id").to_list()
    needs = dict(zip(ids, courses.get_column("prerequisites").to_list(), strict=True))
    rows = dict(zip(ids, courses.get_column(ROW).to_list(), strict=True))
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    loops: list[list[str]] = []

    def visit(course: str, path: list[str]) -> None:
        state[course] = 1
        path.append(course)
        for nxt in needs.get(course) or ():
            if state.get(nxt) == 1:
                loops.append(path[path.index(nxt) :])
            elif nxt in needs and state.get(nxt) is None:
                visit(nxt, path)
        path.pop()
        state[course] = 2

    for course in sorted(ids):
        if state.get(course) is None:
            visit(course, [])
    found.add_unlisted(len(loops) - PER_CHECK)
    for loop in loops[:PER_CHECK]:
        first = min(loop)
        at = loop.index(first)
        ordered = loop[at:] + loop[:at]
        found.add(
            ImportIssue(
                file=names["courses"],
                row=int(rows[first]),
                column="prerequisites",
                value=";".join(needs[first]),
                code="prerequisite_cycle",
                message=f"makes a loop in the prerequisites ({chain_text(ordered)}); a course "
                "cannot require itself, directly or through other courses",
            )
        )

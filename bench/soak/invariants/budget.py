"""The server-token budget: issue calls per client and budget window, across workers."""

from __future__ import annotations

from collections import Counter, defaultdict

from .common import CheckerBase, cap


class Budget(CheckerBase):
    def budget(self) -> None:
        """Issue calls per client (its session, else its address) and budget window."""
        w = self.limits.budget_window
        certain: dict[tuple, Counter] = defaultdict(Counter)
        ambiguous: dict[tuple, list[tuple[int, int]]] = defaultdict(list)
        observed = 0
        for x in self.app:
            if x.get("issue") not in ("token", "error"):
                continue
            observed += 1
            if x["session"] and not x["forged_session"]:
                client = ("session", x["session"])
            else:
                client = ("ip", x["addr"])
            first, last = int(x["t0"] // w), int(x["t1"] // w)
            if first == last:
                certain[client][first] += 1
            else:
                ambiguous[client].append((first, last))
        over = []
        most = 0
        for client in set(certain) | set(ambiguous):
            slots = certain[client]
            for first, last in sorted(ambiguous[client]):
                slots[first if slots[first] < self.limits.budget else last] += 1
            for n in slots.values():
                most = max(most, n)
                if n > self.limits.budget:
                    over.append(f"{client[0]} {client[1]}: {n} in one minute")
        unknown = sum(1 for x in self.app if x["status"] is None or x["status"] >= 500)
        issued = int(self.stats.get("issue", 0))
        self.report.figure(
            f"server-token budget: {observed} issue calls seen by {len(certain)} clients, "
            f"at most {most} per client per minute (budget {self.limits.budget}); "
            f"the sandbox counted {issued}"
        )
        cap(self.report, "server-token budget exceeded", over)
        if issued > observed + unknown:
            self.report.violate(
                f"the sandbox served {issued} issue calls, the clients account for {observed}"
            )

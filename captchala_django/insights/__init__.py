"""The read side: what the trail of decisions says, for people.

:mod:`.queries` is the only module that reads the trail (and knows where decisions
are stored); :mod:`.verdict` judges a window (integration problem, attack or nothing
unusual), :mod:`.report` counts one for ``captchala_report``, :mod:`.dashboard`
draws the admin dashboard. Each builds on ``queries``; the report and the dashboard
end with the verdict.
"""

from .dashboard import Dashboard, dashboard_data
from .report import breakdown, report
from .verdict import Evidence, Verdict, gather, judge

__all__ = [
    "Dashboard",
    "Evidence",
    "Verdict",
    "breakdown",
    "dashboard_data",
    "gather",
    "judge",
    "report",
]

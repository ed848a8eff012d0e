"""Demo problems (``mainspring demo``): after the incidents, so they can explain some.

One problem behind the VPN drop-outs with five linked incidents, one known error whose
article the knowledge reviewer has published, one being fixed and one resolved.
"""

from __future__ import annotations

from mainspring.identity.models import AssignmentGroup, User
from mainspring.incidents.models import Incident
from mainspring.knowledge import services as knowledge

from . import services
from .models import Problem


def load_demo(*, people: dict, **_: object) -> str:
    """Create the demo problems (once); returns what was made."""
    if Problem.objects.exists():
        return ""
    users = people["users"]
    nina, priya, manager = users["nina"], users["priya"], users["manager"]
    network = AssignmentGroup.objects.get(name="Network")
    apps = AssignmentGroup.objects.get(name="Applications")

    vpn = list(
        Incident.objects.filter(
            title__icontains="VPN disconnects", caused_by__isnull=True
        ).order_by("-id")[:5]
    )
    drops = services.create(
        by=nina,
        title="VPN concentrator drops tunnels under load",
        description="Home workers lose the VPN tunnel every few minutes at peak hours.",
        impact="high",
        urgency="medium",
        assignment_group=network,
        assignee=nina,
        incidents=vpn,
    )
    services.transition(drops, "assess", by=nina)
    services.transition(drops, "analyse", by=nina)
    services.update(
        drops,
        by=nina,
        root_cause="The UDP session table of the concentrator fills up at about 900 tunnels.",
    )

    known = services.create(
        by=priya,
        title="Outlook search finds nothing after the March update",
        description="Search in Outlook returns no results for mail older than a week.",
        impact="medium",
        urgency="medium",
        assignment_group=apps,
        assignee=priya,
    )
    services.transition(known, "assess", by=priya)
    services.transition(known, "analyse", by=priya)
    services.mark_known_error(
        known,
        by=priya,
        workaround="File > Options > Search > Indexing options > Advanced > Rebuild. "
        "Search works again after about an hour.",
    )
    article = known.known_error_article
    if article is not None and User.objects.filter(pk=manager.pk).exists():
        knowledge.publish(article, by=manager)

    fixing = services.create(
        by=nina,
        title="Wi-Fi roaming drops Teams calls between floors",
        description="Calls drop when walking between access points on floors 2 and 3.",
        assignment_group=network,
        assignee=nina,
    )
    services.transition(fixing, "assess", by=nina)
    services.transition(fixing, "fix", by=nina)

    done = services.create(
        by=priya,
        title="Payroll export times out at month end",
        assignment_group=apps,
        assignee=priya,
    )
    services.transition(done, "assess", by=priya)
    services.transition(done, "fix", by=priya)
    services.transition(
        done,
        "resolve",
        by=priya,
        resolution_code="fix_applied",
        resolution_notes="Added the missing index on the export table.",
    )
    return "4 problems"

# ruff: noqa: E501 - one article per line reads best
"""Demo knowledge: everyday IT articles, a few agents-only ones; ``manager`` reviews."""

from __future__ import annotations

from mainspring.identity.models import User

from . import services
from .models import Article, KnowledgeReviewer

TOPICS = [
    (
        "Connect to the VPN from home",
        "vpn remote",
        "Install the VPN client from the software centre, sign in with your company account and approve the prompt on your phone.",
    ),
    (
        "VPN connection drops every few minutes",
        "vpn network",
        "Switch from Wi-Fi to a cable if you can, update the VPN client, and restart the laptop.",
    ),
    (
        "Reset your password",
        "password account",
        "Open the self-service password page, verify with your phone and choose a new passphrase of at least 14 characters.",
    ),
    (
        "Unlock your account after too many attempts",
        "password account",
        "Wait 15 minutes or use the self-service page to unlock it.",
    ),
    (
        "Add a network printer",
        "printer",
        "Open Settings, Printers and scanners, Add device, and choose the printer by its floor label.",
    ),
    (
        "Printer shows offline",
        "printer",
        "Check the printer display for errors, then remove and re-add it.",
    ),
    (
        "Printer jams on every page",
        "printer paper",
        "Open every tray, remove torn paper and use 80 g/m² paper only.",
    ),
    (
        "Set up email on your phone",
        "email phone mobile",
        "Install the Outlook app, sign in with your work address and accept the device policy.",
    ),
    (
        "Email stuck in the outbox",
        "email outlook",
        "Check the attachment size (25 MB at most) and your connection, then send again.",
    ),
    (
        "Share a mailbox with your team",
        "email mailbox",
        "Ask for a shared mailbox through the portal; it appears in Outlook within an hour.",
    ),
    (
        "Set up your new laptop",
        "laptop onboarding",
        "Sign in on the company network the first time so your profile and software are installed.",
    ),
    (
        "Laptop battery drains fast",
        "laptop battery",
        "Lower screen brightness, close heavy browser tabs and check the battery report.",
    ),
    (
        "Connect to the office Wi-Fi",
        "wifi network",
        "Choose the Corp network and sign in with your company account; guests use Corp-Guest.",
    ),
    (
        "Use two monitors",
        "monitor display",
        "Connect the dock, then press Windows+P and choose Extend.",
    ),
    (
        "Join a video meeting with good audio",
        "meeting audio teams",
        "Use a headset, test devices before joining and mute when not speaking.",
    ),
    (
        "Install software from the software centre",
        "software install",
        "Open Software Centre, search for the application and click Install.",
    ),
    (
        "Request a new software licence",
        "software licence",
        "Order it in the portal catalogue; your manager approves.",
    ),
    (
        "Recover a deleted file",
        "files onedrive",
        "Open the recycle bin of OneDrive or the file share; files stay 93 days.",
    ),
    (
        "Share files with external partners",
        "files sharing",
        "Use a OneDrive link limited to specific people; never email confidential files.",
    ),
    (
        "Set up multi-factor authentication",
        "mfa security",
        "Install the authenticator app and scan the QR code on the security info page.",
    ),
    (
        "Report a phishing email",
        "security phishing email",
        "Use the Report button in Outlook; do not click links or open attachments.",
    ),
    ("Encrypt a USB stick", "security usb", "Right-click the drive and turn on BitLocker To Go."),
    (
        "Keyboard or mouse not working",
        "keyboard mouse",
        "Replace batteries, re-pair Bluetooth, or try another USB port.",
    ),
    (
        "Screen flickers",
        "monitor display",
        "Reseat the cable, update the graphics driver, lower the refresh rate.",
    ),
    (
        "Map a network drive",
        "files network drive",
        "In File Explorer choose Map network drive and enter the share path.",
    ),
    (
        "Calendar invites not arriving",
        "calendar email",
        "Check your junk folder and delegated calendar settings.",
    ),
    (
        "Speed up a slow computer",
        "performance laptop",
        "Restart weekly, keep 20 % disk free and remove start-up apps you don't need.",
    ),
    (
        "Install updates",
        "updates windows",
        "Updates install automatically at night; restart when asked within three days.",
    ),
    (
        "Scan a document to email",
        "printer scanner email",
        "At the printer choose Scan to me and badge in.",
    ),
    (
        "Get a new phone",
        "phone mobile",
        "Order a phone in the portal catalogue; bring the old one to the service desk.",
    ),
]
AGENT_TOPICS = [
    (
        "VPN concentrator failover runbook",
        "vpn runbook",
        "Fail over to the secondary concentrator in the firewall console; announce it.",
    ),
    (
        "Printer server queue restart",
        "printer runbook",
        "Restart the spooler service on the print server during quiet hours.",
    ),
    (
        "Bulk-unlock accounts after an outage",
        "account runbook",
        "Use the identity console bulk unlock; log the incident numbers.",
    ),
]


def load_demo_articles() -> int:
    """Create the demo articles (once); returns how many were made."""
    manager = User.objects.filter(username="manager").first()
    author = User.objects.filter(username="agent").first() or manager
    if manager is None or author is None or Article.objects.exists():
        return 0
    KnowledgeReviewer.objects.get_or_create(user=manager)
    made = 0
    for topics, audience in ((TOPICS, "everyone"), (AGENT_TOPICS, "agents")):
        for title, tags, text in topics:
            body = f"## What to do\n\n{text}\n\nStill stuck? Report an incident in the portal."
            article = services.create_article(
                by=author, title=title, summary=text.split(",")[0].split(";")[0],
                body=body, tags=tags, audience=audience,
            )  # fmt: skip
            services.publish(article, by=manager)
            made += 1
    return made


def load_demo(**_: object) -> str:
    """The knowledge part of ``mainspring demo``."""
    return f"{load_demo_articles()} articles"

"""The ingestion checks in a provider's words: a title for each check, what to do when it does not
pass, and the few facts of its details worth reading (which members, how many)."""

from dataclasses import dataclass

CHECKS = {
    "integrity": (
        "File integrity",
        "Upload the archive again: what storage holds is not what was declared.",
    ),
    "archive_safety": (
        "Archive safety",
        "Rebuild the archive without absolute paths, links, special files or extreme "
        "compression (tar -czf data.tar.gz your-folder/).",
    ),
    "manifest": ("Contents", "Check that the archive holds the files you meant to publish."),
    "formats": (
        "File formats",
        "Remove or convert the members whose content does not match their name.",
    ),
    "statistics": ("Statistics", "Nothing to do: the figures describe the dataset to buyers."),
    "personal_data": (
        "Personal data",
        "Remove or pseudonymise the personal data found, or say in the datasheet that the "
        "data contains personal data and how consent was given.",
    ),
    "duplicates": (
        "Already published members",
        "Remove the members that are already published in another dataset, or explain in the "
        "datasheet why they belong here.",
    ),
    "malware": ("Malware scan", "Remove the infected members and upload the archive again."),
    "duplicate_archive": (
        "Duplicate archive",
        "This exact archive is already published: publish a new version of that dataset "
        "instead.",
    ),
    "inspection": ("Inspection", "Start the checks again; if it keeps failing, contact us."),
}

MEMBER_KEYS = ("members", "findings", "matches", "infected", "unsafe", "problems")


@dataclass
class CheckView:
    title: str
    status: str
    summary: str
    advice: str
    facts: list[str]


def _facts(details: dict, limit: int = 10) -> list[str]:
    facts = []
    for key in MEMBER_KEYS:
        items = details.get(key)
        if not isinstance(items, list):
            continue
        for item in items[:limit]:
            if isinstance(item, dict):
                where = item.get("path") or item.get("member") or ""
                what = item.get("kind") or item.get("reason") or item.get("message") or ""
                facts.append(f"{where}: {what}".strip(": "))
            else:
                facts.append(str(item))
        if len(items) > limit:
            facts.append(f"… and {len(items) - limit} more")
    return facts


def check_view(result) -> CheckView:
    title, advice = CHECKS.get(result.name, (result.name.replace("_", " ").capitalize(), ""))
    passed = result.status in ("pass", "skipped")
    return CheckView(
        title=title,
        status=result.status,
        summary=result.summary,
        advice="" if passed else advice,
        facts=[] if passed else _facts(result.details or {}),
    )

"""Data migration: the MDC contract's license identifiers (§9) with their flags.

Flags are our conservative reading of each license: permissions (commercial use, derivative
works, model training) and obligations (share-alike, attribution). Where a license's position
is unsettled or depends on options its licensor elects, the restrictive value is used and the
reason is in `notes`. Staff can adjust them in the admin (which changes the terms hash of every
dataset under the license)."""

from django.db import migrations

# identifier, name, url, commercial_use, derivatives, share_alike, attribution, model_training,
# notes
LICENSES = [
    ("Apache-2.0", "Apache License 2.0", "https://www.apache.org/licenses/LICENSE-2.0",
     True, True, False, True, True, ""),
    ("BSD-3-Clause", "BSD 3-Clause \"New\" or \"Revised\" License",
     "https://opensource.org/license/bsd-3-clause", True, True, False, True, True, ""),
    ("CC-BY-4.0", "Creative Commons Attribution 4.0 International",
     "https://creativecommons.org/licenses/by/4.0/", True, True, False, True, True, ""),
    ("CC-BY-ND-4.0", "Creative Commons Attribution-NoDerivatives 4.0 International",
     "https://creativecommons.org/licenses/by-nd/4.0/", True, False, False, True, False,
     "No derivatives: sharing adapted material is not allowed. Whether a trained model is "
     "adapted material is unsettled, so model training is marked not allowed."),
    ("CC-BY-NC-4.0", "Creative Commons Attribution-NonCommercial 4.0 International",
     "https://creativecommons.org/licenses/by-nc/4.0/", False, True, False, True, True,
     "Non-commercial purposes only (also for model training)."),
    ("CC-BY-NC-SA-4.0",
     "Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International",
     "https://creativecommons.org/licenses/by-nc-sa/4.0/", False, True, True, True, True,
     "Non-commercial purposes only (also for model training)."),
    ("CC-BY-SA-4.0", "Creative Commons Attribution-ShareAlike 4.0 International",
     "https://creativecommons.org/licenses/by-sa/4.0/", True, True, True, True, True, ""),
    ("CC-SA-1.0", "Creative Commons ShareAlike 1.0", "https://creativecommons.org/licenses/sa/1.0/",
     True, True, True, False, True, ""),
    ("CC0-1.0", "Creative Commons Zero v1.0 Universal",
     "https://creativecommons.org/publicdomain/zero/1.0/", True, True, False, False, True, ""),
    ("EUPL-1.2", "European Union Public Licence 1.2",
     "https://interoperable-europe.ec.europa.eu/collection/eupl/eupl-text-eupl-12",
     True, True, True, True, True, ""),
    ("AGPL-3.0", "GNU Affero General Public License v3.0",
     "https://www.gnu.org/licenses/agpl-3.0.html", True, True, True, True, True, ""),
    ("GFDL-1.3", "GNU Free Documentation License v1.3",
     "https://www.gnu.org/licenses/fdl-1.3.html", True, True, True, True, True, ""),
    ("GPL-3.0", "GNU General Public License v3.0", "https://www.gnu.org/licenses/gpl-3.0.html",
     True, True, True, True, True, ""),
    ("LGPLLR", "Lesser General Public License For Linguistic Resources",
     "https://spdx.org/licenses/LGPLLR.html", True, True, True, True, True, ""),
    ("MIT", "MIT License", "https://opensource.org/license/mit", True, True, False, True, True,
     ""),
    ("MPL-2.0", "Mozilla Public License 2.0", "https://www.mozilla.org/en-US/MPL/2.0/",
     True, True, True, True, True, "File-level copyleft: modified files stay under MPL-2.0."),
    ("NLOD-2.0", "Norwegian Licence for Open Government Data 2.0",
     "https://data.norge.no/nlod/en/2.0", True, True, False, True, True, ""),
    ("NOODL-1.0", "Nwulite Obodo Open Data License 1.0", "",
     False, True, False, True, True,
     "Tiered: open terms for users in the Global South; users in high-income countries owe "
     "benefit or value sharing to the data community, so unconditional commercial use is "
     "marked not allowed."),
    ("ODC-By-1.0", "Open Data Commons Attribution License v1.0",
     "https://opendatacommons.org/licenses/by/1-0/", True, True, False, True, True, ""),
    ("ODbL-1.0", "Open Data Commons Open Database License v1.0",
     "https://opendatacommons.org/licenses/odbl/1-0/", True, True, True, True, True, ""),
    ("OGL-Canada-2.0", "Open Government Licence - Canada 2.0",
     "https://open.canada.ca/en/open-government-licence-canada", True, True, False, True, True,
     ""),
    ("OGL-UK-3.0", "Open Government Licence v3.0",
     "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
     True, True, False, True, True, ""),
    ("OPUBL-1.0", "Open Publication License v1.0", "https://opencontent.org/openpub/",
     False, False, False, True, True,
     "Its licensor may elect options prohibiting substantively modified versions (A) or "
     "commercial book-form distribution (B); both are marked not allowed unless reviewed."),
    ("OGDL-Taiwan-1.0", "Taiwan Open Government Data License, version 1.0",
     "https://data.gov.tw/license", True, True, False, True, True, ""),
    ("Unlicense", "The Unlicense", "https://unlicense.org/", True, True, False, False, True, ""),
]
FIELDS = ["commercial_use", "derivatives", "share_alike", "attribution", "model_training"]


def seed(apps, schema_editor):
    License = apps.get_model("licensing", "License")
    for identifier, name, url, *flags, notes in LICENSES:
        License.objects.update_or_create(
            identifier=identifier,
            organization=None,
            defaults={
                "name": name,
                "url": url,
                "notes": notes,
                "reviewed": True,
                **dict(zip(FIELDS, flags, strict=True)),
            },
        )


def unseed(apps, schema_editor):
    License = apps.get_model("licensing", "License")
    License.objects.filter(
        organization__isnull=True, identifier__in=[row[0] for row in LICENSES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("licensing", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]

import re

from tests.conftest import BASE_DIR


def po_entries(path):
    """(msgid, msgstr, fuzzy) of a .po file, enough to spot untranslated strings."""
    text = path.read_text(encoding="utf-8")
    entries = []
    for block in text.split("\n\n"):
        fuzzy = "#, fuzzy" in block
        msgid = "".join(re.findall(r'^(?:msgid|")\s*"?(.*?)"$', block.split("msgstr")[0], re.M)) if "msgid" in block else ""
        msgstrs = re.findall(r'^msgstr(?:\[\d\])? "(.*)"((?:\n".*")*)', block, re.M)
        entries.append((msgid, ["".join([a, *re.findall(r'"(.*)"', b)]) for a, b in msgstrs], fuzzy))
    return [e for e in entries if e[0]]


def test_every_interface_string_has_a_french_translation():
    entries = po_entries(BASE_DIR / "locale" / "fr" / "LC_MESSAGES" / "django.po")
    assert len(entries) > 50
    untranslated = [msgid for msgid, msgstrs, fuzzy in entries if fuzzy or not msgstrs or not all(msgstrs)]
    assert untranslated == []

"""The catalogs: present, compiled, complete, and consistent in their placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LANGUAGES, LOCALES_DIR, CatalogError, text_of, translations
from storage.kinds import Direction, Role, TaskStatus

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"{(\w+)}")


def po(lang: str):
    with (LOCALES_DIR / lang / "LC_MESSAGES" / "ctvbot.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def used_keys() -> set[str]:
    keys: set[str] = set()
    for folder in ("flows", "bot"):
        for _, _, message, _, _ in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")],
            keywords={"msg": None, "text_of": None, "tr": None, "N_": None},
        ):
            if isinstance(message, str) and "." in message:
                keys.add(message)
    keys |= {f"target.{d.value}" for d in Direction} | {"target.reduce_per_year_range"}
    keys |= {f"role.{r.value}" for r in Role} | {f"task.{s.value}" for s in TaskStatus}
    keys |= {"ratio.100", "ratio.1000", "ratio.100000", "answer.yes", "answer.no", "format.date"}
    keys |= document_keys()
    return keys


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_is_compiled_and_up_to_date(lang):
    catalog = po(lang)
    compiled = translations(lang)
    for m in catalog:
        if m.id:
            assert compiled.gettext(m.id) == m.string, f"{lang}: {m.id} differs: recompile"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_used_key_is_translated(lang):
    catalog = po(lang)
    missing = [k for k in sorted(used_keys()) if not (catalog.get(k) and catalog.get(k).string)]
    assert missing == [], f"{lang} catalog lacks: {missing}"
    assert not [m.id for m in catalog if m.id and m.fuzzy], "fuzzy entries are not translations"


def test_vietnamese_catalog_has_no_untranslated_or_english_left():
    vi, en = po("vi"), po("en")
    for m in vi:
        if not m.id:
            continue
        assert m.string and m.string != m.id, f"untranslated: {m.id}"
        other = en.get(m.id)
        words = re.sub(r"[^\w]|\d|_", "", PLACEHOLDER.sub("", m.string))
        if other and len(words) > 3 and not m.id.startswith("btn.lang"):
            assert m.string != other.string, f"{m.id} is the English text in the vi catalog"


def test_placeholders_match_between_languages():
    vi, en = po("vi"), po("en")
    for m in vi:
        if m.id:
            assert set(PLACEHOLDER.findall(m.string)) == set(
                PLACEHOLDER.findall(en.get(m.id).string)), m.id


def test_missing_catalog_is_an_error(monkeypatch, tmp_path):
    import bot.i18n as i18n

    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        with pytest.raises(CatalogError, match="not compiled"):
            text_of("btn.yes", "vi")
    finally:
        monkeypatch.undo()
        i18n.translations.cache_clear()


def test_unknown_key_is_an_error():
    with pytest.raises(CatalogError):
        text_of("no.such.key", "vi")


DOCUMENTS = ROOT / "bot" / "documents.py"


def document_keys() -> set[str]:
    """Every catalog key bot/documents.py names (they are all written out whole)."""
    return set(re.findall(r'"(doc\.[a-z_.]+)"', DOCUMENTS.read_text(encoding="utf-8")))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_document_key_is_in_the_catalog(lang):
    keys = document_keys()
    assert len(keys) > 100  # headers, verdicts, notes, sheet names, captions
    assert 'f"doc.' not in DOCUMENTS.read_text(encoding="utf-8"), "a key built at run time"
    catalog = po(lang)
    missing = [k for k in sorted(keys) if not (catalog.get(k) and catalog.get(k).string)]
    assert missing == [], f"{lang} catalog lacks: {missing}"
    assert all(text_of(k, lang) for k in keys)  # compiled too


def test_documents_write_no_vietnamese_of_their_own():
    """Every word a reader sees in a document comes from the catalogs: the only Vietnamese
    strings left in bot/documents.py are docstrings and the administrative prefixes it
    strips from a commune's name."""
    import ast

    tree = ast.parse(DOCUMENTS.read_text(encoding="utf-8"))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef) and n.body
                  and isinstance(n.body[0], ast.Expr)
                  and isinstance(n.body[0].value, ast.Constant)}
    prefixes = next(n.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                    and getattr(n.targets[0], "id", "") == "ADMIN_PREFIXES")
    allowed = docstrings | {id(e) for e in prefixes.elts}
    vietnamese = [n.value for n in ast.walk(tree)
                  if isinstance(n, ast.Constant) and isinstance(n.value, str)
                  and id(n) not in allowed and re.search(r"[À-ỹ]", n.value)]
    assert vietnamese == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_holds_no_merge_leftovers(lang):
    text = (LOCALES_DIR / lang / "LC_MESSAGES" / "ctvbot.po").read_text(encoding="utf-8")
    left = [n for n, line in enumerate(text.splitlines(), 1)
            if re.match(r"(<{7}|={7}|>{7})( |$)", line)]
    assert not left, f"conflict markers on lines {left}"

"""An invitation code in what a person types: with /start, alone, after "Mã:", with a full stop."""

from __future__ import annotations

import pytest

from flows.join import invitation_code


@pytest.mark.parametrize(("text", "code"), [
    ("84mb3v3scdb7", "84mb3v3scdb7"),
    ("Mã: 84mb3v3scdb7", "84mb3v3scdb7"),
    ("84MB3V3SCDB7.", "84mb3v3scdb7"),
    ("ma7k2xyz9abc", "ma7k2xyz9abc"),  # a code that begins with "ma" keeps it
    ("Mã: ma7k2xyz9abc", "ma7k2xyz9abc"),
    ("mã ma7k2xyz9abc", "ma7k2xyz9abc"),
    ("qwertyuvwxzk", "qwertyuvwxzk"),  # drawn without any digit: still a code
    ("450", None), ("1.234", None), ("chưa có số liệu", None), ("xin chào", None),
])
def test_codes_as_people_type_them(text: str, code: str | None) -> None:
    assert invitation_code(text) == code

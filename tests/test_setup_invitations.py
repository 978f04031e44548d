"""`ctvbot invite` and `ctvbot invitations`: roles, ambiguous codes, output files, re-issuing
and links without a bot username. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from storage import repo
from storage.models import Invitation

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture
def xt_cli(cli):
    """The command line on a database holding Xuân Trường."""
    assert cli("setup", str(ROOT / "communes/002_xuan_truong.yaml")).exit_code == 0
    return cli


def n_invitations(engine) -> int:
    with Session(engine) as s:
        return len(s.exec(select(Invitation)).all())


def codes_of(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8-sig") as fh:
        return {r["Mã đơn vị"]: r["Mã mời"] for r in csv.DictReader(fh)}


def join(engine, code: str, telegram_id: int) -> str:
    with Session(engine) as s:
        result = repo.redeem_invitation(code, telegram_id=telegram_id, name="X", language="vi",
                                        session=s)
        s.commit()
        return str(result.outcome)


# ------------------------------------------------------------------ 5. the output file first


@pytest.mark.parametrize("out, message", [
    ("loi-moi.txt", "tên tệp phải có đuôi .csv hoặc .xlsx"),
    ("khong-co/loi-moi.csv", "thư mục khong-co không tồn tại"),
    (".", "đây là một thư mục"),
])
def test_a_bad_output_path_creates_no_invitation(xt_cli, engine, out, message):
    result = xt_cli("invitations", "xuan-truong", "--out", out)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert n_invitations(engine) == 0


def test_a_file_that_cannot_be_written_creates_no_invitation(xt_cli, engine, tmp_path,
                                                             monkeypatch):
    from openpyxl import Workbook

    def locked(self, filename):  # the file is open in Excel, the disk is full...
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Workbook, "save", locked)
    result = xt_cli("invitations", "xuan-truong", "--out", "loi-moi.xlsx", "--lang", "en")
    assert result.exit_code == 1
    assert "--out loi-moi.xlsx: cannot write the file: Permission denied" in result.output
    assert n_invitations(engine) == 0
    assert list(tmp_path.glob("*loi-moi*")) == []


# ------------------------------------------------------------------ 6. re-issuing revokes


def test_reissuing_invitations_revokes_the_earlier_unused_ones(xt_cli, engine, tmp_path):
    first = xt_cli("invitations", "xuan-truong", "--out", "a.csv")
    assert first.exit_code == 0 and "thu hồi" not in first.output
    old = codes_of(tmp_path / "a.csv")
    assert join(engine, old["xuan-truong/thon-hanh-thien"], 1) == "joined"
    second = xt_cli("invitations", "xuan-truong", "--out", "b.csv")
    assert "Đã ghi 15 lời mời vào b.csv" in second.output
    english = xt_cli("invitations", "xuan-truong", "--out", "c.csv", "--lang", "en")
    assert "15 invitations written to c.csv" in english.output
    assert ("14 lời mời cũ chưa dùng của các đơn vị này đã bị thu hồi: mã của chúng không còn "
            "dùng được") in second.output
    assert ("15 earlier unused invitation(s) of these units were revoked: their codes no longer "
            "work") in english.output
    with (tmp_path / "c.csv").open(encoding="utf-8-sig") as fh:
        new = {r["Unit code"]: r["Invitation code"] for r in csv.DictReader(fh)}
    assert join(engine, old["xuan-truong/thon-xuan-bac"], 2) == "expired"
    assert join(engine, new["xuan-truong/thon-xuan-bac"], 3) == "joined"
    # the member who joined with an old code keeps their place
    assert join(engine, old["xuan-truong/thon-hanh-thien"], 1) == "already_member"


def test_keep_earlier_leaves_earlier_codes_valid(xt_cli, engine, tmp_path):
    xt_cli("invitations", "xuan-truong", "--out", "a.csv")
    second = xt_cli("invitations", "xuan-truong", "--out", "b.csv", "--keep-earlier")
    assert "thu hồi" not in second.output
    old = codes_of(tmp_path / "a.csv")
    assert join(engine, old["xuan-truong/thon-xuan-bac"], 2) == "joined"


# ------------------------------------------------------------------ 7. links without a username


def test_links_without_a_bot_username_warn_on_stderr(xt_cli, monkeypatch):
    monkeypatch.delenv("CTVBOT_BOT_USERNAME")
    result = xt_cli("invite", "thon-hanh-thien", "--json", "--lang", "en")
    assert result.exit_code == 0
    data = json.loads(result.stdout)  # stdout stays valid JSON
    assert data["link"].endswith(f"?start={data['code']}")
    assert "CTVBOT_BOT_USERNAME is not set" in result.stderr
    assert "/start CODE" in result.stderr
    quiet = xt_cli("invitations", "xuan-truong", "--out", "a.csv")
    assert "chưa đặt CTVBOT_BOT_USERNAME" in quiet.stderr and "/start MÃ" in quiet.stderr
    monkeypatch.setenv("CTVBOT_BOT_USERNAME", "xuantruong_bot")
    assert xt_cli("invite", "thon-hanh-thien").stderr == ""


# ------------------------------------------------------------------ 8. role against unit kind


@pytest.mark.parametrize("unit, role, allowed", [
    ("thon-hanh-thien", "admin",
     "is a unit of kind «Hamlet»: invite it with --role collaborator, not --role admin"),
    ("tram-y-te", "officer",
     "is a unit of kind «Health station»: invite it with --role agency, not --role officer"),
    ("xuan-truong", "collaborator", "is a unit of kind «Commune»: invite it with --role officer "
                                    "or --role admin, not --role collaborator"),
    ("ninh-binh", "agency", "is a unit of kind «Province»: invite it with --role officer or "
                            "--role admin, not --role agency"),
])
def test_a_role_that_does_not_fit_the_unit_is_refused(xt_cli, engine, unit, role, allowed):
    result = xt_cli("invite", unit, "--role", role, "--lang", "en")
    assert result.exit_code == 1 and allowed in result.output
    assert n_invitations(engine) == 0


def test_fitting_roles_are_accepted(xt_cli):
    for unit, role in (("xuan-truong", "admin"), ("xuan-truong", "officer"),
                       ("tram-y-te", "agency"), ("thon-hanh-thien", "collaborator")):
        out = xt_cli("invite", unit, "--role", role, "--json")
        assert out.exit_code == 0 and json.loads(out.stdout)["role"] == role


# ------------------------------------------------------------------ 9. ambiguous short codes


def test_an_ambiguous_short_code_lists_the_matches(xt_cli, engine):
    xt_cli("setup", str(ROOT / "communes/001_nam_dong.yaml"))
    result = xt_cli("invite", "tram-y-te")
    assert result.exit_code == 1
    assert ("Mã đơn vị «tram-y-te» chưa rõ: khớp với huong-phu/tram-y-te, "
            "xuan-truong/tram-y-te; hãy ghi mã đầy đủ.") in result.output
    assert "no unit" not in result.output
    assert n_invitations(engine) == 0
    assert xt_cli("invite", "huong-phu/tram-y-te").exit_code == 0

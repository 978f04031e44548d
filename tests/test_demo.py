"""`ctvbot demo` and `ctvbot chat`, as a newcomer runs them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sandbox.chat import run_chat
from sandbox.demo import run_demo


@pytest.mark.xdist_group("demo")
def test_demo_plays_the_year_and_writes_its_files(played_demo):
    lines, out = played_demo("vi")
    text = "\n".join(lines)
    assert "Xin chào Lan" in text
    assert "Chưa hiểu «45o»" in text          # a typing mistake caught
    assert "Tiếp tục từ chỗ bạn dừng" in text               # stopped halfway, resumed
    assert text.count("Đã gửi báo cáo năm 2026") >= 3
    assert (out / "transcript.txt").read_text(encoding="utf-8").startswith("\n══")
    assert "Đơn vị đã gửi: 3/14 (3 đúng hạn, 0 chậm)" in text
    assert "⏰ Nhắc báo cáo năm 2026" in text and "[Báo cáo ngay]" in text  # reminders fired
    assert "Tiến độ báo cáo năm 2026" in text                               # the digest
    files = {p.suffix for p in out.iterdir()}
    assert {".docx", ".xlsx", ".png"} <= files
    link = next(line for line in lines if "Biểu mẫu web của Thôn Xuân Thủy" in line)
    assert "http://127.0.0.1:8080/login/" in link


async def test_demo_serve_keeps_the_form_open_until_ctrl_c(tmp_path):
    import asyncio
    import os
    import re
    import signal

    from aiohttp import ClientSession, CookieJar

    lines: list[str] = []
    task = asyncio.create_task(run_demo("vi", tmp_path / "demo", echo=lines.append,
                                        serve="127.0.0.1:0"))
    while not any("Ctrl-C" in line for line in lines):
        assert not task.done(), lines[-5:]
        await asyncio.sleep(0.2)
    link = re.search(r"(http://\S+/login/\S+)", "\n".join(lines)).group(1)
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http, http.post(link) as r:
        page = await r.text()
        assert r.status == 200 and "Thôn Xuân Thủy" in page and 'name="csrf"' in page
    os.kill(os.getpid(), signal.SIGINT)
    await asyncio.wait_for(task, 30)


@pytest.mark.xdist_group("demo")
def test_demo_in_english(played_demo):
    lines, _ = played_demo("en")
    text = "\n".join(lines)
    assert "Hello Lan" in text and "Saved indicator" in text


async def test_chat_in_the_terminal():
    typed = iter(["/baocao", "450", "b1", "/huy"])
    shown: list[str] = []

    def read() -> str:
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    await run_chat("thon-hanh-thien", "vi", read=read, echo=shown.append)
    text = "\n".join(shown)
    assert "Đã hiểu: 450 trẻ" in text and "[b1 Chưa có số liệu]" in text
    assert "để trống" in text and "Đã dừng" in text


def test_demo_command_leaves_nothing_running(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "demo", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"các tệp ở {tmp_path}" in proc.stdout


async def test_demo_on_zalo(tmp_path):
    from sandbox.demo_zalo import run_demo as run_zalo_demo

    lines: list[str] = []
    out = await run_zalo_demo(tmp_path / "demo", echo=lines.append)
    text = "\n".join(lines)
    assert "Xin chào An" in text and "Chưa hiểu «5oo»" in text
    assert "» Vẫn là 10 · Chưa có số liệu" in text        # a figure's choices, by words
    assert "Đã gửi báo cáo năm 2026" in text
    assert "(đã gửi 1 tin nhắc trên Zalo)" in text and "⏰ Nhắc báo cáo năm 2026" in text
    assert "Zalo không gửi được tệp" in text
    assert (out / "transcript.txt").exists()

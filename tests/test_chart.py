"""The chart read at a glance: higher-is-better and lower-is-better indicators apart, each
panel on an axis with its unit, ranges drawn as ranges, shares of units in, the year's path
target marked, long names wrapped (never cut to the same label), a 0 visible."""

from __future__ import annotations

import dataclasses
import struct

import matplotlib.pyplot as plt
import pytest
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from sqlmodel import Session

from bot.documents import (
    HIGHER,
    LOWER,
    WITHIN,
    chart_figure,
    chart_panels,
    report_png,
)
from flows.rules import Target
from storage.aggregate import DAT, CommuneReport
from tests.test_aggregate import HAMLETS, setup_commune
from tests.test_road import _two_years


@pytest.fixture
def rep(session: Session) -> CommuneReport:
    """Xuân Trường 2026: 5.2 over two years (on its path), a share of schools, a rate per
    1,000 and per 100,000, and a 0."""
    xt = setup_commune(session)
    _two_years(xt)
    xt.save("thon-hanh-thien", "8.1", numerator=1, denominator=2)
    xt.save("thon-xuan-bac", "8.1", numerator=99, denominator=100)
    xt.save("mam-non", "7", value=1)
    xt.save("tieu-hoc", "7", value=0)
    xt.save("tram-y-te", "3.1", numerator=1, denominator=208)
    xt.save("cong-an", "9", numerator=0, denominator=900)
    for h in HAMLETS[:5]:
        xt.save(h, "11.1", numerator=1, denominator=200)
    session.commit()
    return xt.report()


def _bars(panels):  # noqa: ANN001, ANN202
    return {b.code: (p, b) for p in panels for b in p.bars}


def _artists(fig, gid: str) -> list:  # noqa: ANN001
    return [a for ax in fig.axes for a in [*ax.lines, *ax.patches] if a.get_gid() == gid]


def test_panels_keep_directions_and_units_apart(rep: CommuneReport) -> None:
    panels = chart_panels(rep)
    kinds = [(p.better, p.factor) for p in panels]
    assert kinds == sorted(kinds, key=lambda k: ({HIGHER: 0, LOWER: 1, WITHIN: 2}[k[0]], k[1]))
    assert len(set(kinds)) == len(kinds)  # one panel per direction and unit
    rows = {r.code: r for r in rep.rows}
    for p in panels:
        for b in p.bars:
            direction = rows[b.code].target.direction
            assert direction in ({"at_least", "above"} if p.better == HIGHER
                                 else {"at_most", "below"})
    bars = _bars(panels)
    assert bars["5.2"][0].better == HIGHER and bars["8.1"][0].better == LOWER
    assert {p.factor: p.axis for p in panels} == {
        100: "Tỷ lệ (%)", 1000: "Tỷ lệ (‰, trên 1.000)", 100000: "Số người trên 100.000"}
    assert bars["3.1"][0].factor == 1000 and bars["11.1"][0].factor == 100000
    # a share of units is drawn like any rate: one school of the three expected
    assert bars["7"][1].value == pytest.approx(100 / 3) and bars["7"][0].axis == "Tỷ lệ (%)"
    # the year's point on the road to 2030
    assert bars["5.2"][1].path_target == pytest.approx(97.36)
    # judged on its path first (coloured as met), the 2030 milestone beside it
    text = " ".join(bars["5.2"][1].text.split())
    assert text == ("97,56% (Lộ trình 2026: ≥ 97,36%) ✓ Đúng lộ trình; mốc 2030: ≥ 98%, "
                    "không đạt")
    assert bars["5.2"][1].verdict == DAT
    # every value and target fits its panel's axis
    for p in panels:
        assert all(0 <= b.value <= p.top and b.target <= p.top for b in p.bars)


def test_the_figure_marks_what_it_says(rep: CommuneReport) -> None:
    fig = chart_figure(rep)
    try:
        by_label = {ax.get_xlabel(): ax for ax in fig.axes}
        assert set(by_label) == {"Tỷ lệ (%)", "Tỷ lệ (‰, trên 1.000)", "Số người trên 100.000"}
        assert all(ax.get_xlim()[0] == 0 for ax in fig.axes)
        # a 0 has its dot on the axis, drawn outside the clip so it is never lost
        (zero,) = _artists(fig, "value:9")
        assert isinstance(zero, Line2D) and list(zero.get_xdata()) == [0]
        assert zero.get_marker() == "o" and zero.get_markersize() >= 5
        assert not zero.get_clip_on()
        (path,) = _artists(fig, "path:5.2")
        assert list(path.get_xdata()) == [pytest.approx(97.36)] and path.get_marker() == "v"
        (target,) = _artists(fig, "target:5.2")
        assert list(target.get_xdata()) == [98]
        assert _artists(fig, "bar:7")  # the share of schools has its bar
        ticks = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
        assert any(t.startswith("5.2. ") for t in ticks)
    finally:
        plt.close(fig)
    png = report_png(rep)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 1000 and height > 500


def test_long_names_are_wrapped_never_cut_alike(rep: CommuneReport) -> None:
    panels = chart_panels(rep)
    rows = {r.code: r for r in rep.rows}
    labels = [b.label for p in panels for b in p.bars]
    assert len(set(labels)) == len(labels)
    for p in panels:
        for b in p.bars:
            whole = f"{b.code}. {rows[b.code].name_vi}"
            assert b.label.replace("\n", " ") == whole  # the bundled names fit, in full
            assert all(len(line) <= 42 for line in b.label.split("\n"))
    # two names alike over their first 190 characters still read apart
    same = "Tỷ lệ trẻ em dưới 5 tuổi được tiêm chủng đầy đủ các loại vắc xin theo quy định " \
           "của Bộ Y tế tại các thôn, khu phố và tổ dân phố trên địa bàn xã và các xã lân cận " \
           "trong huyện, kể cả "
    long = dataclasses.replace(rep, rows=[
        dataclasses.replace(r, name_vi=same + ("trẻ di cư" if r.code == "8.1" else "trẻ khuyết"
                                                                                 " tật"))
        if r.code in ("8.1", "5.2") else r for r in rep.rows])
    bars = _bars(chart_panels(long))
    one, two = bars["8.1"][1].label, bars["5.2"][1].label
    assert one != two and one.startswith("8.1. ") and two.startswith("5.2. ")
    assert one.count("\n") <= 3 and one.endswith("…")


def test_a_range_is_drawn_as_a_range(rep: CommuneReport) -> None:
    ranged = dataclasses.replace(rep, rows=[
        dataclasses.replace(r, target=Target("range", 2.0, 4.0, None, 2026, False))
        if r.code == "3.1" else r for r in rep.rows])
    panel, bar = _bars(chart_panels(ranged))["3.1"]
    assert panel.better == WITHIN and (bar.target, bar.target_max) == (2.0, 4.0)
    assert "2,00‰ – 4,00‰" in bar.text or "2‰ – 4‰" in bar.text
    fig = chart_figure(ranged)
    try:
        (band,) = _artists(fig, "range:3.1")
        assert isinstance(band, Rectangle)
        assert (band.get_x(), band.get_width()) == (2.0, 2.0)
    finally:
        plt.close(fig)


def test_english_axes(rep: CommuneReport) -> None:
    panels = chart_panels(rep, lang="en")
    assert [p.title for p in panels][:2] == ["Higher is better", "Lower is better"]
    assert {p.axis for p in panels} == {"Share (%)", "Rate (‰, per 1,000)",
                                        "People per 100,000"}
    assert report_png(rep, lang="en")[:4] == b"\x89PNG"

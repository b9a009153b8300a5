"""The workshop board's figure (maas_helpers/workshop/board.py): one bar per attendee, whole-number request ticks."""

from __future__ import annotations

from matplotlib.ticker import MaxNLocator

from maas_helpers.workshop.board import Row, figure


def test_request_axis_counts_in_whole_numbers() -> None:
    rows = [Row("room-01", 3, 120, "2026-11-10T12"), Row("room-02", 1, 40, ""), Row("room-03", 0, 0, "")]
    fig = figure(rows, "room")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["room-01", "room-02", "room-03"]
    assert [p.get_height() for p in ax.patches] == [3, 1, 0]
    locator = ax.yaxis.get_major_locator()
    assert isinstance(locator, MaxNLocator)
    ticks = locator.tick_values(0, 3)
    assert len(ticks) > 2 and all(float(t).is_integer() for t in ticks), ticks  # without integer=True: 0.5 steps


def test_board_names_the_time_zone_of_its_hours() -> None:
    """Issue 29 item 11: `workshop watch` showed hours in the provider's zone without saying which."""
    from rich.console import Console

    from maas_helpers.workshop.board import rich_table

    console = Console(width=200, record=True)
    console.print(rich_table("room", [Row("room-01", 3, 120, "2026-11-10 12:00", "Europe/Berlin")]))
    assert "last call (hour, Europe/Berlin)" in console.export_text()
    console.print(rich_table("room", [Row("room-01", 0, 0, "")]))
    assert "last call (hour, the provider time zone)" in console.export_text()

"""Plots people read at a glance: nothing overlaps, nothing is cut, one colour per configuration, sensible files.

The figures are drawn from synthetic result files (``helpers.write_plot_results``: realistic phases, worker
arrivals, memory samples, scaling families, long labels) at 1, 4 and 16
configurations, and their text is measured with matplotlib's own extents.
"""

from __future__ import annotations

import html
import os
import re

import pytest
from helpers import PLOT_RUNS, write_plot_results
from matplotlib.colors import to_hex
from matplotlib.image import imread

from dask_timing.analysis.groups import Group, total_times
from dask_timing.analysis.scaling import Fit, families
from dask_timing.analysis.verdicts import pair_results
from dask_timing.present.exports import html_page
from dask_timing.present.exports.base import Analysis
from dask_timing.present.plots import (COMPARISON, PANEL_SIZE, PLOTS, SIDE_COLOURS, Look, Plot, draw_all, fit_text,
                                       label_parts, plot_all, pyplot, register)
from dask_timing.present.plots.layout import row_figures

pytestmark = pytest.mark.timeout(120)


# -- Measuring what was drawn ----------------------------------------------------------------------------------


def overlap(first, second, tolerance: float = 1.0) -> bool:
    """Whether two window extents share more than a sliver (touching is fine)."""
    return (min(first.x1, second.x1) - max(first.x0, second.x0) > tolerance
            and min(first.y1, second.y1) - max(first.y0, second.y0) > tolerance)


def inside(box, figure, tolerance: float = 1.0) -> bool:
    return (box.x0 >= -tolerance and box.y0 >= -tolerance and box.x1 <= figure.bbox.width + tolerance
            and box.y1 <= figure.bbox.height + tolerance)


def shown_tick_labels(axis) -> list:
    """The tick labels drawn: visible, not empty, at a tick inside the view."""
    low, high = sorted(axis.get_view_interval())
    span = high - low
    return [label for location, label in zip(axis.get_majorticklocs(), axis.get_majorticklabels())
            if low - 1e-9 * span <= location <= high + 1e-9 * span and label.get_visible() and label.get_text()]


def legends(figure) -> list:
    return list(figure.legends) + [axes.get_legend() for axes in figure.axes if axes.get_legend() is not None]


def titles_and_axis_labels(figure) -> list:
    texts = [figure._suptitle] if figure._suptitle is not None else []
    for axes in figure.axes:
        texts += [axes.title, axes._left_title, axes._right_title, axes.xaxis.label, axes.yaxis.label]
    return [text for text in texts if text.get_visible() and text.get_text()]


def problems(figure) -> list[str]:
    """Everything a reader would stumble on, by the figure's own text extents."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    found = []
    data_areas = [axes.get_window_extent(renderer) for axes in figure.axes]
    headings = titles_and_axis_labels(figure)
    for legend in legends(figure):
        box = legend.get_window_extent(renderer)
        texts = [text.get_window_extent(renderer) for text in legend.get_texts()]
        if any(overlap(each, area) for each in [box, *texts] for area in data_areas):
            found.append(f"legend over the data: {[text.get_text() for text in legend.get_texts()][:2]}")
        if not inside(box, figure):
            found.append(f"legend cut at the figure's edge: {box}")
        if any(overlap(box, text.get_window_extent(renderer)) for text in headings):
            found.append("legend over a title or an axis label")
        if any(overlap(box, other.get_window_extent(renderer)) for other in legends(figure) if other is not legend):
            found.append("two legends overlap")
    for text in headings:
        if not inside(text.get_window_extent(renderer), figure):
            found.append(f"cut at the figure's edge: {text.get_text()!r}")
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            labels = shown_tick_labels(axis)
            boxes = [label.get_window_extent(renderer) for label in labels]
            for first in range(len(boxes)):
                if not inside(boxes[first], figure):
                    found.append(f"tick label cut at the figure's edge: {labels[first].get_text()!r}")
                found += [f"tick labels overlap: {labels[first].get_text()!r} and {labels[second].get_text()!r}"
                          for second in range(first + 1, len(boxes)) if overlap(boxes[first], boxes[second], 0.0)]
    return found


def png_size(path) -> tuple[int, int]:
    with open(path, "rb") as stream:
        header = stream.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


# -- The tests ---------------------------------------------------------------------------------------------------


def test_the_checks_catch_what_readers_complained_about():
    """A legend over the data, crowded tick labels and a title wider than its figure are all found."""
    figure, axes = pyplot().subplots(figsize=(4, 3))
    try:
        axes.plot([1, 2], [1, 2], label="cluster SLURMCluster, 2 workers")
        axes.legend(loc="upper left")
        axes.set_xticks(range(6), [f"configuration {k}" for k in range(6)])
        axes.set_title("Where the time goes: phases of the time to ready, for every configuration")
        found = problems(figure)
    finally:
        pyplot().close(figure)
    assert any(issue.startswith("legend over the data") for issue in found)
    assert any(issue.startswith("tick labels overlap") for issue in found)
    assert any(issue.startswith("cut at the figure's edge: 'Where the time goes") for issue in found)


@pytest.fixture(scope="module", params=[(1, "cluster"), (4, "cluster"), (16, "cluster"), (16, "schedulers")],
                ids=lambda param: f"{param[0]}-{param[1]}")
def drawn(request, tmp_path_factory):
    """Every plot of ``count`` configurations, drawn once for the tests that measure them."""
    count, kind = request.param
    groups = write_plot_results(tmp_path_factory.mktemp(f"{kind}{count}"), count, kind)
    assert len(groups) == count
    drawings = list(draw_all(Analysis(groups)))
    yield groups, drawings
    for drawing in drawings:
        for figure in drawing.figures:
            pyplot().close(figure)


def test_every_plot_is_drawn_for_what_the_results_hold(drawn):
    groups, drawings = drawn
    stems = [drawing.stem for drawing in drawings]
    if groups[0].kind == "schedulers":
        assert stems == ["timing_phases", "timing_total_time"]
    else:  # one configuration has no worker-count family to scale over
        scaling = ["timing_scaling", "timing_weak_scaling"] if len(groups) > 1 else []
        assert stems == ["timing_phases", "timing_total_time", "timing_arrivals", "timing_memory", *scaling,
                         "timing_worker_phases", "timing_waterfall"]
    assert all(len(drawing.figures) == 1 for drawing in drawings)  # 16 configurations still fit one page


def test_no_legend_over_the_data_no_tick_labels_overlapping_nothing_cut(drawn):
    _, drawings = drawn
    found = {f"{drawing.stem} page {page}": problems(figure)
             for drawing in drawings for page, figure in enumerate(drawing.figures, start=1)}
    assert {name: issues for name, issues in found.items() if issues} == {}


def test_axis_titles_name_the_metric(drawn):
    groups, drawings = drawn
    texts = [text.get_text() for drawing in drawings for figure in drawing.figures
             for text in figure.findobj(lambda artist: hasattr(artist, "get_text"))]
    totals = next(drawing for drawing in drawings if drawing.stem == "timing_total_time").figures[0].axes[0]
    if groups[0].kind == "schedulers":
        assert totals.get_xlabel().startswith("compute time (seconds")
        assert not [text for text in texts if "time to ready" in text.lower()]
    else:
        assert totals.get_xlabel().startswith("total time to ready (seconds")


def entry_styles(axes) -> list[tuple[str, str, str]]:
    """(colour, line style, marker) of each legend entry of a panel; a family's points stand for it."""
    if axes.containers:  # scaling: each family's error bars, its points drawn in the family's colour and marker
        return [(to_hex(bars.lines[0].get_color()), "", bars.lines[0].get_marker()) for bars in axes.containers]
    if axes.get_legend() is None:  # a small multiple: one configuration's line, named by the panel's title
        return [(to_hex(line.get_color()), line.get_linestyle(), line.get_marker()) for line in axes.lines]
    return [(to_hex(handle.get_color()), handle.get_linestyle(), handle.get_marker())
            for handle in axes.get_legend().legend_handles]


def test_panels_hold_at_most_eight_each_drawn_its_own_way(drawn):
    _, drawings = drawn
    for drawing in drawings:
        for figure in drawing.figures:
            for axes in figure.axes:
                if axes.get_legend() is None:
                    continue
                styles = entry_styles(axes)
                assert len(styles) == len(axes.get_legend().get_texts()) <= PANEL_SIZE
                assert len(set(styles)) == len(styles), f"{drawing.stem}: two entries drawn alike"


def test_a_configuration_has_one_colour_in_every_plot(drawn):
    groups, drawings = drawn
    by_stem = {drawing.stem: drawing.figures for drawing in drawings}
    boxes = [to_hex(patch.get_edgecolor()) for patch in by_stem["timing_total_time"][0].axes[0].patches]
    assert len(boxes) == len(groups)
    assert len(set(boxes)) == len(groups)  # up to 20 configurations: 20 colours
    for stem in ("timing_arrivals", "timing_memory", "timing_scaling", "timing_weak_scaling"):
        if stem not in by_stem:
            continue
        colours = [colour for figure in by_stem[stem] for axes in figure.axes for colour, _, _ in entry_styles(axes)]
        if stem in ("timing_arrivals", "timing_memory"):
            assert colours == boxes, stem
        else:  # a family takes the colour of its first configuration
            assert colours == [boxes[groups.index(family[0])] for family in families(groups)], stem


def test_arrivals_of_more_than_eight_configurations_are_small_multiples_not_overlapping_bands(drawn):
    groups, drawings = drawn
    figures = [figure for drawing in drawings if drawing.stem == "timing_arrivals" for figure in drawing.figures]
    panels = [axes for figure in figures for axes in figure.axes if axes.get_visible()]
    if len(groups) <= PANEL_SIZE or not panels:  # few configurations, or none with arrivals (scheduler runs)
        assert all(axes.get_legend() is not None for axes in panels)
        return
    assert len(panels) == len(groups)  # a panel each, its band alone, named by its title
    assert all(axes.get_legend() is None and len(axes.lines) == 1 and axes.get_title(loc="left") for axes in panels)


def test_worker_counts_are_whole_numbers(drawn):
    groups, drawings = drawn
    for drawing in drawings:
        if drawing.stem in ("timing_scaling", "timing_weak_scaling"):
            axes = drawing.figures[0].axes[-1]
            assert [label.get_text() for label in shown_tick_labels(axes.xaxis)] == ["1", "2", "4", "8"]
        if drawing.stem == "timing_arrivals":
            for axes in drawing.figures[0].axes:
                assert all(float(location).is_integer() for location in axes.yaxis.get_majorticklocs())


def test_files_are_readable_pngs_of_sensible_size(tmp_path):
    groups = write_plot_results(tmp_path, 16)
    paths = plot_all(Analysis(groups), str(tmp_path / "plots"))
    assert len(paths) == 8
    for path in paths:
        width, height = png_size(path)
        assert 800 <= width <= 1600 and 300 <= height <= 2400, (path, width, height)
        assert height / width < 2.0 and width / height < 4.0, (path, width, height)
        pixels = imread(path)[..., :3]
        assert (pixels.min(axis=-1) < 0.9).mean() > 0.03, f"{path} is nearly blank"
        assert path.caption and "timing_" not in path.caption


def test_more_than_a_page_goes_on_pages_with_the_same_scales_overwriting_nothing(tmp_path):
    groups = write_plot_results(tmp_path, 24)
    folder = tmp_path / "plots"
    first = plot_all(Analysis(groups), str(folder))
    names = [os.path.basename(path) for path in first]
    for stem in ("timing_phases", "timing_total_time", "timing_arrivals", "timing_memory"):
        assert f"{stem}_1.png" in names and f"{stem}_2.png" in names and f"{stem}_3.png" not in names
    assert "timing_scaling.png" in names  # six families: one page
    assert [path.caption for path in first if "timing_phases" in path] == [
        PLOTS[0].caption + " (page 1 of 2)", PLOTS[0].caption + " (page 2 of 2)"]
    contents = {path: open(path, "rb").read() for path in first}
    again = [os.path.basename(path) for path in plot_all(Analysis(groups), str(folder))]
    assert "timing_phases-1_1.png" in again and "timing_phases-1_2.png" in again
    assert all(open(path, "rb").read() == content for path, content in contents.items())

    drawings = {drawing.stem: drawing.figures for drawing in draw_all(Analysis(groups))}
    try:
        for stem in ("timing_phases", "timing_arrivals"):
            assert len({axes.get_xlim() for figure in drawings[stem] for axes in figure.axes}) == 1, stem
            assert all(not problems(figure) for figure in drawings[stem])
    finally:
        for figures in drawings.values():
            for figure in figures:
                pyplot().close(figure)


def test_labels_leave_out_what_is_shared_and_key_long_values():
    labels = ["cluster SLURMCluster, 2 workers, 1 thread(s) per worker, cluster_kwargs={'queue': 'debug', "
              "'walltime': '00:10:00'}, dashboard=on",
              "cluster SLURMCluster, 4 workers, 1 thread(s) per worker, cluster_kwargs={'queue': 'long', "
              "'walltime': '01:00:00'}, dashboard=on"]
    assert label_parts(labels[0])[3] == "cluster_kwargs={'queue': 'debug', 'walltime': '00:10:00'}"
    look = Look([Group("cluster", {}, label=label) for label in labels])
    assert look.name(labels[0], 3) == "2 workers,\ncluster_kwargs=[1] (n=3)"  # wrapped between settings
    assert look.name(labels[1]) == "4 workers, cluster_kwargs=[2]"
    heading = look.heading(labels[1:])
    assert heading.startswith("All configurations: cluster SLURMCluster, 1 thread(s) per worker, dashboard=on\n")
    assert "[2] cluster_kwargs={'queue': 'long'" in heading and "[1]" not in heading


def test_fitted_law_is_written_with_its_signs():
    assert fit_text(Fit(0.077, -0.008, 0.5, (0.0, 0.1), (-0.01, 0.0), 9)) == ("0.077 s \N{MINUS SIGN} 0.008 s × "
                                                                             "workers")
    assert fit_text(Fit(-0.05, 0.21, 0.9, (-0.1, 0.0), (0.2, 0.3), 9)) == "\N{MINUS SIGN}0.05 s + 0.21 s × workers"


def test_html_report_captions_plots_in_words(tmp_path):
    groups = write_plot_results(tmp_path, 4)
    page = html_page.render(Analysis(groups))
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page)
    assert captions == [html.escape(plot.caption) for plot in PLOTS]
    assert "timing_" not in page


@pytest.mark.parametrize("count", [1, 4, 16])
def test_both_sides_of_a_comparison_are_drawn_a_colour_each_nothing_overlapping(tmp_path, count):
    for side in ("baseline", "new"):
        (tmp_path / side).mkdir()
    baseline, new = (write_plot_results(tmp_path / side, count) for side in ("baseline", "new"))
    comparison = pair_results(baseline, new)
    pairs = comparison.pairs
    assert len(pairs) == count
    drawings = list(draw_all(Analysis(new, comparison)))
    try:
        drawing = drawings[-1]  # after the plots of the results
        assert (drawing.stem, drawing.caption) == (COMPARISON.stem, COMPARISON.caption)
        (figure,) = drawing.figures  # 16 configurations still fit one page
        assert problems(figure) == []
        axes = figure.axes[0]
        names = [label.get_text() for label in axes.get_yticklabels()]
        assert len(names) == count and all(name.endswith("baseline n=4, new n=4") for name in names)
        (legend,) = figure.legends
        assert [text.get_text() for text in legend.get_texts()] == ["baseline", "new"]
        dots = [line for line in axes.lines if line.get_marker() == "o"]
        assert [to_hex(line.get_color()) for line in dots] == list(SIDE_COLOURS) * count  # one colour a side
        for row, pair in enumerate(pairs):  # every run drawn, the baseline's above the new ones
            old, fresh = dots[2 * row], dots[2 * row + 1]
            assert sorted(old.get_xdata()) == sorted(total_times(pair.baseline))
            assert sorted(fresh.get_xdata()) == sorted(total_times(pair.new))
            assert old.get_ydata()[0] < row < fresh.get_ydata()[0]  # y grows downwards: first row on top
    finally:
        for figure in (figure for each in drawings for figure in each.figures):
            pyplot().close(figure)
    saved = plot_all(Analysis(new, comparison), str(tmp_path / "plots"))
    assert os.path.basename(saved[-1]) == "timing_comparison.png"


def draw_runs_per_configuration(analysis: Analysis, look: Look) -> list:
    """A toy kind of plot: one bar per configuration, its number of successful runs, laid out by the kit."""
    def draw(axes, page: list[Group]) -> None:
        axes.barh(range(len(page)), [len(group.ok_runs) for group in page], color=[look.style(group).color
                                                                                  for group in page])

    return row_figures(look, "Runs per configuration", analysis.groups, draw, "successful runs")


@pytest.fixture
def toy_plot():
    plot = register(Plot("timing_runs", "How many runs each configuration has", lambda analysis: bool(analysis.groups),
                         draw_runs_per_configuration))
    yield plot
    PLOTS.remove(plot)


def test_a_registered_plot_kind_is_drawn_saved_and_captioned(tmp_path, toy_plot):
    groups = write_plot_results(tmp_path, 4)
    paths = plot_all(Analysis(groups), str(tmp_path / "plots"))
    assert [os.path.basename(path) for path in paths][-1] == "timing_runs.png"  # drawn in registration order
    assert paths[-1].caption == toy_plot.caption
    figure = next(drawing for drawing in draw_all(Analysis(groups)) if drawing.stem == "timing_runs").figures[0]
    bars = figure.axes[0].patches
    assert [bar.get_width() for bar in bars] == [PLOT_RUNS] * 4
    assert [label.get_text() for label in figure.axes[0].get_yticklabels()] == [
        Look(groups).name(group.label, PLOT_RUNS) for group in groups]
    page = html_page.render(Analysis(groups))
    assert re.findall(r"<figcaption>(.*?)</figcaption>", page)[-1] == html.escape(toy_plot.caption)
    with pytest.raises(ValueError, match="timing_runs is already the file name of another kind of plot"):
        register(toy_plot)

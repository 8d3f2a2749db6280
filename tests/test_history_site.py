"""``dask-timing history publish DIR``: a static site that opens from disk, checked in headless Chromium; publishing
again updates it and never breaks it; text from the database is shown escaped (on SQLite and PostgreSQL)."""

from __future__ import annotations

import html
import json
import os
import random
import shutil
import subprocess

import pytest
from conftest import REPOSITORY, run_tool
from helpers import VERSIONS, db_url, synthetic, write_history_results

from dask_timing.errors import EXIT_OK, EXIT_USAGE
from dask_timing.present.history_site import BUILDS, LINK

HOSTILE_HOST = "<img src=x onerror=alert(1)>\nrunner"

# Every image not drawn and every link whose target cannot be read, once the page is laid out.
BROKEN = """
var broken = [];
document.querySelectorAll("img").forEach(function (image) {
  if (!image.complete || image.naturalWidth === 0) { broken.push("image " + image.getAttribute("src")); }
});
document.querySelectorAll("a[href]").forEach(function (link) {
  var request = new XMLHttpRequest();
  try {
    request.open("GET", link.href, false);
    request.send();
    if (!request.responseText) { broken.push("link " + link.getAttribute("href")); }
  } catch (error) { broken.push("link " + link.getAttribute("href")); }
});
document.body.dataset.measured = JSON.stringify({broken: broken, images: document.images.length,
                                                 links: document.links.length, title: document.title});
"""


def publish(db: str, folder, *options: str):
    return run_tool(["-m", "dask_timing", "history", "publish", "--db", db, str(folder), *options], cwd=REPOSITORY,
                    timeout=280)


def recorded(tmp_path, db: str, configurations: int, releases: int = 5) -> None:
    rng = random.Random(configurations)
    results = []
    for workers in range(1, configurations + 1):
        for index, version in enumerate(VERSIONS[:releases]):
            for _ in range(3):
                slower = 1.8 if workers == 1 and index == releases - 1 else 1.0
                results.append(synthetic(version, seconds=0.3 * slower, n_workers=workers, rng=rng,
                                         host=HOSTILE_HOST if workers == 2 else "machine-a",
                                         timestamp=f"2026-0{index + 1}-01T00:00:00Z"))
    write_history_results(tmp_path / f"results{configurations}", results)
    imported = run_tool(["-m", "dask_timing", "history", "import", "--db", db, str(tmp_path / f"results{configurations}")],
                        cwd=REPOSITORY)
    assert imported.returncode == EXIT_OK, imported.stderr


def chromium_dom(url: str, tmp_path) -> str:
    """The page at ``url`` once laid out in headless Chromium (file pages may read files beside them)."""
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", "--allow-file-access-from-files", f"--user-data-dir={tmp_path / 'profile'}",
                           "--virtual-time-budget=5000", "--window-size=1280,1000", "--dump-dom", url],
                          capture_output=True, text=True, timeout=90).stdout


def checked_in_chromium(page: str, tmp_path) -> dict:
    """Open ``page`` (a copy beside it, with the check added) from disk in Chromium; what the check found."""
    folder, name = os.path.split(page)
    copy = os.path.join(folder, f"checked-{name}")
    with open(page, encoding="utf-8") as stream:
        text = stream.read()
    with open(copy, "w", encoding="utf-8") as stream:
        stream.write(text.replace("</body>", f"<script>window.addEventListener('load', function () {{ {BROKEN} }});"
                                             "</script></body>"))
    try:
        dom = chromium_dom("file://" + copy, tmp_path)
    finally:
        os.unlink(copy)
    return json.loads(html.unescape(dom.split('data-measured="')[1].split('"')[0]))


@pytest.mark.timeout(600)
def test_a_published_site_has_no_broken_link_or_image_in_chromium(db_url, tmp_path):
    recorded(tmp_path, db_url, 3)
    site = tmp_path / "site"
    completed = publish(db_url, site)
    assert completed.returncode == EXIT_OK, completed.stdout + completed.stderr
    assert "Published 3 configuration(s) in " in completed.stdout and "open " in completed.stdout
    built = os.path.realpath(site / LINK)
    pages = sorted(name for name in os.listdir(built) if name.endswith(".html"))
    assert len(pages) == 3 + 2 and len([name for name in os.listdir(built) if name.endswith(".png")]) == 3
    for name in pages:
        found = checked_in_chromium(os.path.join(built, name), tmp_path)
        assert found["broken"] == [], (name, found)
        assert found["links"] >= 2  # the navigation at least
        if name.startswith("config-"):
            assert found["images"] == 1
    index = (site / LINK / "index.html").read_text()
    assert index.count('class="failed"') == 1 and index.count('class="passed"') + index.count('class="cannot-tell"') == 2
    # text from the database, escaped: no markup of its own, its line break shown as \n
    every = "".join((site / LINK / name).read_text() for name in pages)
    assert "<img src=x" not in every and "&lt;img src=x onerror=alert(1)&gt;\\nrunner" in every
    # the entry page sends the reader on to the site
    assert "<h1>History of 3 configuration(s), by version</h1>" in chromium_dom((site / "index.html").as_uri(), tmp_path)


@pytest.mark.timeout(600)
def test_publishing_again_updates_the_site_and_never_touches_what_is_not_its_own(tmp_path):
    db = str(tmp_path / "h.db")
    site = tmp_path / "site"
    site.mkdir()
    (site / "notes.txt").write_text("mine")
    (site / "build-19990101T000000-1").mkdir()  # named like a publication, but not in the site's folder
    recorded(tmp_path, db, 1)
    assert publish(db, site).returncode == EXIT_OK
    first = os.readlink(site / LINK)
    assert "1 configuration(s)" in (site / LINK / "index.html").read_text()
    assert "Only the stored runs" not in (site / LINK / "index.html").read_text()
    recorded(tmp_path, db, 2)
    again = publish(db, site)
    assert again.returncode == EXIT_OK, again.stderr
    assert "History of 2 configuration(s)" in (site / LINK / "index.html").read_text()
    assert os.readlink(site / LINK) != first and os.path.isdir(site / first)  # the one before stays, whole
    chosen = publish(db, site, "--config", "workers=1", "--host", "machine-a")  # the filters said on the site
    assert chosen.returncode == EXIT_OK, chosen.stderr
    assert ('<h1>History of 1 configuration(s), by version</h1><p class="selection">Only the stored runs matching '
            "--config workers=1 --host machine-a.</p>") in (site / LINK / "index.html").read_text()
    assert not os.path.exists(site / first)  # older ones go
    assert len(os.listdir(site / BUILDS)) == 2
    assert (site / "notes.txt").read_text() == "mine" and (site / "build-19990101T000000-1").is_dir()
    assert sorted(os.listdir(site)) == sorted([".dask-timing-site", "build-19990101T000000-1", "index.html",
                                               LINK, "notes.txt"])


@pytest.mark.timeout(120)
def test_a_folder_holding_someone_else_s_index_is_refused_untouched(tmp_path):
    db = str(tmp_path / "h.db")
    recorded(tmp_path, db, 1)
    for owned, content in (("index.html", "<p>my page</p>"), (LINK, "my notes")):
        folder = tmp_path / f"theirs-{owned}"
        folder.mkdir()
        (folder / owned).write_text(content)
        refused = publish(db, folder)
        assert refused.returncode == EXIT_USAGE and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert "left as it was" in refused.stderr and not refused.stdout
        assert sorted(os.listdir(folder)) == [owned] and (folder / owned).read_text() == content
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    refused = publish(db, a_file)
    assert refused.returncode == EXIT_USAGE and "is not a folder" in refused.stderr

"""The documentation: the README stays an entry point, the site builds strictly, its pages render in a
browser with every image and internal link, the getting-started commands run, and every results line
the docs quote carries its provenance."""

from __future__ import annotations

import functools
import html.parser
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

from tests.conftest import REPO


def test_the_readme_is_short_and_starts_with_the_two_set_up_commands():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 200
    block = lines[lines.index("```bash") + 1 : lines.index("```bash") + 3]
    assert block[0].startswith("pip install -e '.[dev]' && spectfsl demo")
    assert block[1].startswith("python -m pytest")


def test_every_results_line_carries_its_provenance():
    files = sorted((REPO / "benchmarks" / "results").glob("*.jsonl"))
    assert files
    for path in files:
        for number, text in enumerate(path.read_text().splitlines(), start=1):
            line = json.loads(text)
            missing = {"commit", "date", "versions", "machine", "command"} - set(line)
            assert not missing, f"{path.name}:{number} lacks {sorted(missing)}"
            assert {"python", "torch", "numpy", "spectfsl"} <= set(line["versions"])
    stray = [p.name for p in (REPO / "benchmarks").glob("results*") if p.is_file()]
    assert not stray, f"results outside benchmarks/results/: {stray}"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("mkdocs")
    folder = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        for name, value in attrs:
            if value and ((tag == "a" and name == "href") or (tag in ("img", "script") and name == "src")):
                self.targets.append(value)


def test_every_internal_link_and_image_of_the_site_resolves(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 15
    broken = []
    for page in pages:
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for target in parser.targets:
            parsed = urlparse(target)
            if parsed.scheme or target.startswith(("#", "mailto:", "//")):
                continue
            base = site if parsed.path.startswith("/") else page.parent  # the 404 page links from the root
            path = (base / parsed.path.lstrip("/")).resolve()
            if path.is_dir():
                path = path / "index.html"
            if not path.exists():
                broken.append(f"{page.relative_to(site)} -> {target}")
    assert not broken, broken[:20]


def test_the_command_reference_is_the_apps_own_help(site, cli):
    reference = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    for words in (["segment", "predict"], ["prnet", "locate"], ["proto", "evaluate"]):
        option = "--qc" if words[0] != "proto" else "--cross-validate"
        assert option in cli(*words, "--help").stdout and option in reference


def test_the_accuracy_page_quotes_the_results_files(site):
    page = (site / "results" / "accuracy" / "index.html").read_text(encoding="utf-8")
    assert "<!-- results:" not in page and "prnet + local template matching" in page
    first = json.loads((REPO / "benchmarks" / "results" / "proto-ood.jsonl").read_text().splitlines()[0])
    assert first["commit"][:7] in page


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium and chromium-driver are not installed")
def test_the_pages_render_in_headless_chromium_with_every_image(site):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = _chromium()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        problems = []
        for page in sorted(site.rglob("index.html")):
            url = urljoin(base, page.relative_to(site).as_posix().removesuffix("index.html"))
            driver.get(url)
            heading = driver.execute_script("const h = document.querySelector('article h1'); return h && h.textContent")
            missing = driver.execute_script(
                "return [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
            )
            if not heading or missing:
                problems.append((url, heading, missing))
        assert not problems, problems
    finally:
        driver.quit()
        server.shutdown()


@pytest.mark.slow
def test_the_getting_started_commands_run_as_written(tmp_path):
    if shutil.which("spectfsl") is None:
        pytest.skip("the spectfsl console script is not installed")
    text = (REPO / "docs" / "getting-started.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 6
    script = "set -euo pipefail\n" + "\n".join(blocks)
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=900, env=os.environ.copy()
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "cross-validation" in done.stdout and (tmp_path / "predictions.csv").stat().st_size > 0
    assert (tmp_path / "maps" / "spect_labels.nii.gz").exists()
    assert len(list((tmp_path / "qc-landmarks").glob("*_qc.png"))) == 2  # one per located target
    assert (tmp_path / "qc-maps" / "spect_qc.png").exists()
    assert (tmp_path / "readout" / "spect_polar.png").exists()


@pytest.mark.slow
def test_the_readme_tour_runs_as_written(tmp_path):
    if shutil.which("spectfsl") is None:
        pytest.skip("the spectfsl console script is not installed")
    text = (REPO / "README.md").read_text()
    [tour] = re.findall(r"## Quick tour.*?```bash\n(.*?)```", text, flags=re.S)
    done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + tour], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "│ true │" in done.stdout  # the whole slice given to the bank is flagged ood, as the comment says

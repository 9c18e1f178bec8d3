"""End-to-end: a real `paperbridge serve` driven by a real headless Chromium and gradio_client.

The server runs as a subprocess over a library built from the sample corpus with the real
default models. Chromium is Debian's (/usr/bin/chromium, installed by quickstart.sh); no
browser is downloaded. Each step saves a screenshot to tests/artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, SAMPLE, SHARED_PDFS

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SLOW_MS = 240_000  # the first question after an upload recalibrates the library


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Debian chromium not installed: apt-get install chromium (quickstart.sh does)")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def ui_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample corpus embedded with the real default models, once per session."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from paperbridge.qa import PaperBridge

    library = tmp_path_factory.mktemp("ui") / "library"
    bridge = PaperBridge(library)
    report = bridge.add(sorted(SAMPLE.glob("*.txt")))
    assert len(report.added) == 5 and not report.failed
    bridge.ask("What is the K Program?")  # calibrates once; the server reads it from disk
    return library


@pytest.fixture(scope="session")
def server(ui_library: Path) -> Iterator[str]:
    """`paperbridge --library LIB serve --port FREE` as a subprocess; yields its URL."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    exe = Path(sys.executable).with_name("paperbridge")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("PAPERBRIDGE_AUTH", None)
    log = (ARTIFACTS / "server.log").open("w")
    proc = subprocess.Popen(
        [str(exe), "--library", str(ui_library), "serve", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 400) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (ARTIFACTS / "server.log").read_text()[-2000:]
            pytest.fail(f"paperbridge serve exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"paperbridge serve did not answer on {url} within {timeout} s")


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    with sync_playwright() as play:
        context = play.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        yield context
        context.close()


@pytest.fixture
def page(browser_context: Any, server: str) -> Iterator[Any]:
    tab = browser_context.new_page()
    tab.bring_to_front()
    tab.set_default_timeout(60_000)
    tab.goto(server)
    tab.wait_for_selector("#pb-question textarea")
    yield tab
    tab.close()


def _wait(page: Any, script: str, arg: Any = None, timeout: float = 60_000) -> None:
    """Wait until ``script`` is true, checked every 250 ms rather than on animation frames
    (the default), which a browser throttles in a tab that is not in front. This did not
    cure every timeout seen under heavy load: an upload can still go unseen for 240 s."""
    page.wait_for_function(script, arg=arg, timeout=timeout, polling=250)


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _ask(page: Any, question: str) -> None:
    page.get_by_role("tab", name="Ask").click()
    page.fill("#pb-question textarea", question)
    page.click("#pb-ask")
    _wait(
        page,
        "q => document.querySelector('#pb-cards .pb-card') !== null"
        " && document.querySelector('#pb-pick') !== null",
        arg=question,
        timeout=SLOW_MS,
    )
    page.wait_for_timeout(500)


def _upload(page: Any, pdf: Path) -> str:
    page.get_by_role("tab", name="Library").click()
    # The page's load event fills the table; upload only once the tab has settled.
    _wait(page, "() => document.querySelector('#pb-docs')?.innerText.includes('.txt')")
    page.set_input_files("#pb-upload input[type=file]", [str(pdf)])
    try:
        _wait(
            page,
            "name => (document.querySelector('#pb-upload')?.textContent || '').includes(name)",
            arg=pdf.name,
            timeout=SLOW_MS,
        )
    finally:
        _shot(page, f"upload_{pdf.stem}")
    page.click("#pb-add")
    _wait(
        page,
        "name => (document.querySelector('#pb-report')?.innerText || '').includes(name)",
        arg=pdf.name,
        timeout=SLOW_MS,
    )
    return str(page.inner_text("#pb-report"))


def test_english_question_is_answered_from_the_chinese_paper(page: Any) -> None:
    _shot(page, "01_start")
    _ask(
        page,
        "What percentage of Japanese companies carried out innovation activities in the 2018 "
        "national innovation survey?",
    )
    _shot(page, "02_answer_from_chinese_paper")
    answer = page.inner_text("#pb-answer")
    assert "[1]" in answer and re.search(r"[\u4e00-\u9fff]", answer), answer
    assert "38.00%" in answer
    first = page.locator('.pb-card[data-rank="1"]')
    assert first.get_attribute("data-lang") == "zh"
    assert "002_f74b1f1c159f20b4.txt" in first.inner_text()
    # The source view of a text file: the paragraphs around the passage, passage marked.
    assert page.locator("#pb-source-text mark").count() >= 1


def test_uploaded_pdf_is_listed_answered_and_shown_in_its_page(page: Any) -> None:
    report = _upload(page, SHARED_PDFS / "en_elegantpaper-en.pdf")
    _shot(page, "03_uploaded_pdf")
    assert "added ElegantPaper: An Elegant LATEX Template for Working Papers" in report
    assert "en_elegantpaper-en.pdf" in report
    assert "en_elegantpaper-en.pdf" in page.inner_text("#pb-docs")
    _ask(page, "How can I choose the language mode of the ElegantPaper template?")
    first = page.locator('.pb-card[data-rank="1"]')
    assert "en_elegantpaper-en.pdf" in first.inner_text()
    page.wait_for_selector("#pb-page img")
    _shot(page, "04_pdf_answer_and_page")
    # Open the source of another citation of the PDF from the picker.
    cards = page.locator(".pb-card")
    ranks = [
        cards.nth(i).get_attribute("data-rank")
        for i in range(cards.count())
        if "en_elegantpaper-en.pdf" in cards.nth(i).inner_text()
    ]
    other = next(r for r in ranks if r != "1")
    page.locator("#pb-pick label").filter(has_text=f"[{other}]").click()
    _wait(
        page,
        "r => (document.querySelector('#pb-source-caption')?.innerText || '').includes('[' + r + ']')",
        arg=other,
    )
    image = page.locator("#pb-page img")
    image.wait_for()
    _wait(page, "() => document.querySelector('#pb-page img').naturalWidth > 500")
    _shot(page, "05_source_view_pdf_page")


def test_broken_pdf_upload_reports_the_file_by_name(page: Any) -> None:
    name = "zh_elegantpaper-cn_TRUNCATED_60pct.pdf"
    report = _upload(page, SHARED_PDFS / name)
    _shot(page, "06_broken_pdf_reported")
    assert f"failed: {name}" in report
    assert "truncated" in report.lower() or "damaged" in report.lower()
    assert name not in page.inner_text("#pb-docs")


# Questions whose answer is in exactly one sample document (tests/data/sample_questions.jsonl).
_CONCURRENT = {
    "en-zh-01": "002_f74b1f1c159f20b4.txt",
    "en-zh-06": "002_f74b1f1c159f20b4.txt",
    "en-zh-09": "002_f74b1f1c159f20b4.txt",
    "en-zh-10": "002_f74b1f1c159f20b4.txt",
    "en-zh-12": "002_f74b1f1c159f20b4.txt",
    "en-zh-14": "002_f74b1f1c159f20b4.txt",
    "en-zh-16": "002_f74b1f1c159f20b4.txt",
    "en-en-01": "004_963bb32dc49e57ae.txt",
    "zh-zh-01": "004_963bb32dc49e57ae.txt",
    "zh-zh-02": "002_f74b1f1c159f20b4.txt",
    "zh-en-03": "000_052cd85081011c82.txt",
}


def test_fifty_concurrent_questions_are_all_answered_from_the_right_document(server: str) -> None:
    from gradio_client import Client

    rows = [json.loads(line) for line in (ROOT / "tests/data/sample_questions.jsonl").open()]
    questions = {r["id"]: r["question"] for r in rows if r["id"] in _CONCURRENT}
    ids = [list(_CONCURRENT)[i % len(_CONCURRENT)] for i in range(50)]
    client = Client(server, verbose=False)

    def ask(qid: str) -> dict[str, Any]:
        result: dict[str, Any] = client.predict(questions[qid], 5, api_name="/ask_json")
        return result

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(ask, ids))
    elapsed = time.monotonic() - started
    top = [Path(a["citations"][0]["source"]).name for a in answers]
    wrong = [(qid, got) for qid, got in zip(ids, top, strict=True) if got != _CONCURRENT[qid]]
    assert not wrong, wrong
    assert all(a["question"] == questions[qid] for qid, a in zip(ids, answers, strict=True))
    (ARTIFACTS / "concurrency.txt").write_text(f"50 questions, 50 threads: {elapsed:.1f} s\n")


def test_enter_asks_shift_enter_breaks_the_line_and_the_quoted_citation_is_shown(page: Any) -> None:
    box = page.locator("#pb-question textarea")
    box.fill("What R&D intensity did Japan keep")
    box.press("Shift+Enter")
    box.type("between 2016 and 2021?")
    assert box.input_value() == "What R&D intensity did Japan keep\nbetween 2016 and 2021?"
    assert page.locator("#pb-cards .pb-card").count() == 0, "Shift+Enter must not send"
    box.press("Enter")
    _wait(page, "() => document.querySelector('#pb-cards .pb-card') !== null", timeout=SLOW_MS)
    _wait(page, "() => (document.querySelector('#pb-source-caption')?.innerText || '') !== ''")
    _shot(page, "07_enter_sends_quoted_source")
    answer = page.inner_text("#pb-answer")
    quoted = re.search(r"\[(\d+)\]", answer)
    assert quoted, answer
    assert f"[{quoted.group(1)}]" in page.inner_text("#pb-source-caption")
    assert page.locator(".pb-card .pb-rel").count() == page.locator(".pb-card").count()
    assert page.locator(".pb-confidence .pb-rel").count() == 1, "the answer's confidence bar"
    assert "match" in page.inner_text('.pb-card[data-rank="1"] .pb-meta')


def test_a_hostile_title_stays_text_and_loads_nothing(page: Any, tmp_path: Path) -> None:
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    hostile = tmp_path / "okapi_notes.md"
    hostile.write_text(
        "# Okapi [Click here to re-login](http://evil.example/phish) ![t](http://evil.example/track.png)\n\n"
        "The Okapi system weighted query terms with the BM25 function of term frequency, document length "
        "and inverse document frequency, and the runs at TREC-3 used it for every ranking.\n",
        encoding="utf-8",
    )
    report = _upload(page, hostile)
    _shot(page, "08_hostile_title_inert")
    assert "Click here to re-login" in report and "added" in report
    assert page.locator("#pb-report a").count() == 0
    assert page.locator("#pb-report img").count() == 0
    _ask(page, "Which weighting function did the Okapi system use at TREC-3?")
    _wait(page, "() => (document.querySelector('#pb-source-caption')?.innerText || '') !== ''")
    assert page.locator("#pb-source-caption a").count() == 0
    assert page.locator("#pb-source-caption img, #pb-cards img").count() == 0
    assert not [url for url in fetched if "evil.example" in url], fetched

"""The chat UI (``recstack chat ui``): Streamlit's AppTest on the real graph, and a real headless
Chromium that types a question into the served page.

The browser test drives Debian's ``chromium`` through Debian's ``chromium-driver`` with Selenium:
both come from one Debian source package at one version, so the driver always speaks the
browser's protocol, and nothing is downloaded at run time (Playwright would need its own browser
build, which cannot be fetched here, or an unsupported pairing with the system one).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("streamlit", reason="the chat extra (streamlit) is not installed")

from streamlit.testing.v1 import AppTest

from recstack.server import free_port

UI = Path(__file__).resolve().parents[2] / "src" / "recstack" / "conversational" / "ui.py"
DOCS_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "img" / "chat-ui.png"
QUESTION = "제주시 한림읍에 있는 카페 중 30대 이용 비중이 가장 높은 곳은?"
EXPECTED = "벌크커피한림점"


@pytest.fixture()
def ui_env(chat_settings, monkeypatch):
    """The environment that points ``get_settings()`` (in this process and in a child) at the
    test graph; Streamlit's resource cache is emptied before and after."""
    import streamlit as st

    from recstack.settings import get_settings

    monkeypatch.setenv("RECSTACK_HOME", str(chat_settings.home))
    monkeypatch.setenv("RECSTACK_DATA__SHARED_DIR", str(chat_settings.shared_data_dir))
    get_settings.cache_clear()
    st.cache_resource.clear()
    yield chat_settings
    st.cache_resource.clear()
    get_settings.cache_clear()


def _expected_share(merchants: pd.DataFrame) -> float:
    """The 30대 share of the answer, computed from the CSV without the graph."""
    cafes = merchants[merchants["지역"].fillna("").str.contains("제주시 한림읍")
                      & (merchants["판매음식종류"] == "커피")]
    best = cafes.loc[cafes["30대고객수비중"].idxmax()]
    assert best["가맹점명"].strip() == EXPECTED
    return float(best["30대고객수비중"])


def test_apptest_answers_with_cards_map_and_cypher(ui_env, merchants):
    app = AppTest.from_file(str(UI), default_timeout=60).run()
    assert not app.exception and not app.error
    app.chat_input[0].set_value(QUESTION).run()
    assert not app.exception
    texts = [m.value for m in app.markdown]
    assert f"**1. {EXPECTED}**" in texts  # the card's title
    assert "커피 · 제주시 한림읍" in [c.value for c in app.caption]
    share = _expected_share(merchants)
    assert [(m.label, m.value) for m in app.metric] == [("30대 고객 비중", f"{100 * share:.1f}%")]
    assert any(t.startswith(f"{EXPECTED} (제주시 한림읍, 커피)") for t in texts)  # the reason
    assert "m.age30" in app.code[0].value and "MATCH" in app.code[0].value
    deck = app.get("deck_gl_json_chart")
    assert len(deck) == 1  # the map: one point at 한림읍's attractions' centre
    # A bad question is a warning naming the unknown word; the history keeps both turns.
    app.chat_input[0].set_value("노형동 라멘집 중 30대 비중 높은 곳").run()
    assert not app.exception
    assert "라멘집" in app.warning[0].value and "Fix:" in app.warning[0].value
    assert len(app.chat_message) == 4
    assert f"**1. {EXPECTED}**" in [m.value for m in app.markdown]
    # Three answers in one district share one map point; "New conversation" clears the history.
    app.chat_input[0].set_value("애월읍 일식집 중 여성 비중이 높은 곳 3곳").run()
    assert [m.label for m in app.metric][-3:] == ["여성 회원 비중"] * 3
    app.sidebar.button[0].click().run()
    assert len(app.chat_message) == 0


def test_apptest_follow_ups_stay_in_the_conversation(ui_env):
    app = AppTest.from_file(str(UI), default_timeout=60).run()
    app.chat_input[0].set_value(QUESTION).run()
    app.chat_input[0].set_value("40대는?").run()  # the same cafes, ranked by another share
    assert not app.exception and not app.warning
    assert [m.label for m in app.metric] == ["30대 고객 비중", "40대 고객 비중"]
    assert "m.age40" in app.code[-1].value
    app.chat_input[0].set_value("내일 서울 날씨 어때?").run()  # not Jeju food: declined
    assert not app.exception and len(app.chat_message) == 6
    assert len(app.metric) == 2  # the decline is a sentence, not a card
    assert "제주" in app.chat_message[-1].markdown[0].value


def test_every_ui_turn_is_logged_like_the_service(store, settings):
    from recstack.conversational.ask import Asker
    from recstack.conversational.ui import district_centres, reply
    from recstack.monitoring.labels import prediction_frame
    from recstack.monitoring.log import PredictionLog

    asker, centres = Asker(store, threads_path=settings.home / "threads.sqlite"), {}
    log = PredictionLog(settings)
    try:
        for question in (QUESTION, "40대는?", "내일 서울 날씨 어때?"):
            reply(asker, question, centres or district_centres(store), thread="t1",
                  prediction_log=log)
        log.flush()
        logged = prediction_frame(log.store, "chat-template-parser")
    finally:
        log.close()
        asker.close()
    kinds = [column for column in logged.columns if column.endswith("kind")]
    assert logged[kinds[0]].tolist() == ["answer", "answer", "decline"]
    assert logged["output_prediction"].tolist()[0] == EXPECTED


def test_apptest_without_a_graph_says_to_build_it(tmp_path, monkeypatch):
    import streamlit as st

    from recstack.settings import get_settings

    monkeypatch.setenv("RECSTACK_HOME", str(tmp_path / "empty-home"))
    get_settings.cache_clear()
    st.cache_resource.clear()
    try:
        app = AppTest.from_file(str(UI), default_timeout=60).run()
    finally:
        get_settings.cache_clear()
    assert not app.exception
    assert "recstack chat build" in app.error[0].value
    assert len(app.chat_input) == 0  # no question box until there is a graph


def test_helpers_place_merchants_at_their_district_centre(store):
    from recstack.conversational.ask import Asker
    from recstack.conversational.ui import Card, district_centres, map_points, reply

    centres = district_centres(store)
    lat, lng = centres["제주시 한림읍"]
    assert 33.3 < lat < 33.5 and 126.1 < lng < 126.4  # the west of Jeju island
    message = reply(Asker(store), "애월읍 일식집 중 여성 비중이 높은 곳 3곳", centres)
    assert [c["district"] for c in message["cards"]] == ["제주시 애월읍"] * 3
    assert message["points"] == map_points([Card(**c) for c in message["cards"]], centres)
    assert len(message["points"]) == 1 and message["points"][0]["names"].startswith("1. ")
    empty = reply(Asker(store), "   ", centres)
    assert empty["error"]["field"] == "question"


@pytest.mark.slow
@pytest.mark.server
def test_browser_types_a_question_into_the_served_ui(ui_env, tmp_path):
    """`recstack chat ui` as a real process, a real headless Chromium typing the question."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("no Chromium here: apt-get install chromium chromium-driver (see .ci/run)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (dev extra) missing")
    import httpx
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    started = time.monotonic()
    port, log_file = free_port(), tmp_path / "ui.log"
    with log_file.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "recstack", "chat", "ui", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1200,1300"):
        options.add_argument(arg)
    browser = None
    try:
        _wait_for_streamlit(server, port, log_file, httpx)
        browser = webdriver.Chrome(options=options, service=Service(driver))
        browser.get(f"http://127.0.0.1:{port}")
        box = WebDriverWait(browser, 60).until(lambda b: b.find_element(
            By.CSS_SELECTOR, '[data-testid="stChatInputTextArea"]'))
        box.send_keys(QUESTION + Keys.ENTER)
        WebDriverWait(browser, 60).until(
            lambda b: EXPECTED in b.find_element(By.TAG_NAME, "body").text)
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "30대 고객 비중" in body and "커피 · 제주시 한림읍" in body
        WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.CSS_SELECTOR, "canvas"))
        time.sleep(1)  # let the map's canvas draw before the picture
        shot = tmp_path / "chat-ui.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        if os.environ.get("RECSTACK_UPDATE_DOCS_IMAGES") == "1":  # the docs' picture, on demand
            DOCS_IMAGE.parent.mkdir(exist_ok=True)
            shutil.copyfile(shot, DOCS_IMAGE)
    finally:
        if browser is not None:
            browser.quit()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    print(f"browser test took {time.monotonic() - started:.1f} s")


def _wait_for_streamlit(server: subprocess.Popen[bytes], port: int, log_file: Path, httpx,
                        timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise AssertionError(f"`recstack chat ui` exited ({server.returncode}): "
                                 f"{log_file.read_text(errors='replace')}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"the UI did not answer within {timeout:.0f} s"
        time.sleep(0.3)

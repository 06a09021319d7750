"""A real headless Chromium (Debian's chromium + chromium-driver, driven by
selenium) and a real uvicorn server in a thread, for the page's tests."""

import shutil
import socket
import tempfile
import threading
import time
from contextlib import contextmanager

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(app, port):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > end or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not shutil.which(CHROMIUM) or not shutil.which(CHROMEDRIVER):
        pytest.fail("the browser tests need Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver; .ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1100,700",
                f"--user-data-dir={tempfile.mkdtemp(prefix='tsunagu-chromium-')}"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def shown_id(driver, timeout=10.0, not_=None) -> str:
    """The example the page shows, once it is not ``not_``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        eid = driver.execute_script("return document.body.dataset.exampleId")
        if eid is not None and eid != not_ and (eid or driver.find_element("id", "done").is_displayed()):
            return eid
        time.sleep(0.02)
    raise AssertionError(f"the page still shows {not_!r} (status: {status(driver)!r})")


def status(driver) -> str:
    return driver.find_element("id", "status").text


def press(driver, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(key).perform()


def wait_status(driver, fragment: str, timeout=10.0) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        text = status(driver)
        if fragment in text:
            return text
        time.sleep(0.02)
    raise AssertionError(f"status {status(driver)!r} never said {fragment!r}")

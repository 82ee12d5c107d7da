"""The admin in a real browser: log in, open every list, save a room, meet a two-tab conflict.

Headless Chromium from Debian (`chromium`, `chromium-driver`; scripts/ensure-browser.sh
installs them for `make test` and CI) driven by Selenium against pytest-django's live server.
Every wait is on a condition in the page, never on time. A page added to the admin later is
opened here without a change: the lists come from the admin site's registry.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib import admin
from django.urls import reverse
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from stayos.models import Room
from tests.factories import (
    CompanyFactory,
    GuestGroupFactory,
    RatePlanFactory,
    RoomFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PASSWORD = "correct horse battery"
WAIT_SECONDS = 20  # an upper bound for slow machines; every wait returns as soon as it holds


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        message = f"{', '.join(missing)} missing: run scripts/ensure-browser.sh (as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"The browser test must run in CI: {message}")
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",  # root in CI; the pages are our own
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(
        options=options, service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    )
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def _wait(driver: WebDriver):
    return WebDriverWait(driver, WAIT_SECONDS)


def _submit(driver: WebDriver, button: WebElement) -> None:
    """Click and wait until the next page has replaced this one."""
    page = driver.find_element(By.TAG_NAME, "html")
    button.click()
    _wait(driver).until(EC.staleness_of(page))
    _wait(driver).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _log_in(driver: WebDriver, base_url: str, username: str) -> None:
    driver.get(base_url + reverse("admin:login"))
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    _submit(driver, driver.find_element(By.CSS_SELECTOR, "input[type=submit]"))
    _wait(driver).until(EC.presence_of_element_located((By.ID, "user-tools")))


def _type_notes(driver: WebDriver, text: str) -> None:
    notes = driver.find_element(By.ID, "id_notes")
    notes.clear()
    notes.send_keys(text)


def test_the_admin_works_in_a_real_browser(browser: WebDriver, live_server):
    user = UserFactory(username="maria", first_name="Maria", last_name="Santos")
    room = RoomFactory(notes="")
    RatePlanFactory(property=room.property)
    GuestGroupFactory(contact__property=room.property)
    CompanyFactory(property=room.property)

    _log_in(browser, live_server.url, user.username)

    # Every list registered with the admin renders, this pages and later ones alike.
    broken = []
    for model in admin.site._registry:
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        browser.get(live_server.url + url)
        if "Server Error" in browser.page_source or not browser.find_elements(By.ID, "changelist"):
            broken.append(f"{url}: {browser.title}")
    assert not broken, broken

    # Save a room through its form.
    change_url = live_server.url + reverse("admin:stayos_room_change", args=[room.pk])
    browser.get(change_url)
    _type_notes(browser, "Fresh paint")
    _submit(browser, browser.find_element(By.NAME, "_save"))
    success = _wait(browser).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, ".messagelist .success"))
    )
    assert "was changed successfully" in success.text
    room.refresh_from_db()
    assert room.notes == "Fresh paint"

    # Two tabs on the same room: the second save is refused, naming who changed it.
    browser.get(change_url)
    tab_a = browser.current_window_handle
    browser.switch_to.new_window("tab")
    tab_b = browser.current_window_handle
    browser.get(change_url)

    browser.switch_to.window(tab_a)
    _type_notes(browser, "Tab A was here")
    _submit(browser, browser.find_element(By.NAME, "_save"))
    _wait(browser).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, ".messagelist .success"))
    )

    browser.switch_to.window(tab_b)
    _type_notes(browser, "Tab B was here")
    _submit(browser, browser.find_element(By.NAME, "_save"))
    error = _wait(browser).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, "ul.errorlist.nonfield"))
    )
    assert "Not saved:" in error.text
    assert "Maria Santos changed this room" in error.text
    assert Room.objects.get(pk=room.pk).notes == "Tab A was here"

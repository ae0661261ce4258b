#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""The console's page in headless Chromium, driven by Selenium, as a responder uses it.

browser.py URL TOKEN DEVICE PHASE SHOTS_DIR
  PHASE isolate: sign in, find the device in the list (and with the filter), open its page,
                 "Isolate device" with a comment, follow the action to Succeeded, see "Isolated".
  PHASE release: the same with "Release from isolation", then the fleet's action list, and the
                 device list at a phone's width.
Screenshots of each state go to SHOTS_DIR. Exit 0 when every step was seen, 1 otherwise (the
reason on stderr), 77 when Chromium, chromedriver or Selenium is missing.
"""
import os
import sys
import time

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    print("python3-selenium is not installed", file=sys.stderr)
    sys.exit(77)

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"


def browser(width, height):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--disable-extensions", "--ignore-certificate-errors",
                f"--window-size={width},{height}"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(DRIVER), options=opts)


class Page:
    def __init__(self, url, token, shots):
        self.url, self.token, self.shots = url.rstrip("/"), token, shots
        self.d = browser(1280, 860)
        # the page redraws its tables every few seconds: an element found a moment ago may be
        # gone, so every wait retries on a stale element and clicks go through click()
        self.wait = WebDriverWait(self.d, 20, poll_frequency=0.1,
                                  ignored_exceptions=(StaleElementReferenceException,))

    def el(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def click(self, css):
        def attempt(d):
            self.el(css).click()
            return True
        self.wait.until(attempt, f"cannot click {css}")

    def text_is(self, css, want):
        self.wait.until(lambda d: self.el(css).text.strip() == want,
                        f"{css} never read '{want}'")

    def shot(self, name):
        self.d.save_screenshot(os.path.join(self.shots, name + ".png"))

    def sign_in(self):
        self.d.get(self.url + "/")
        self.wait.until(lambda d: self.el("#login").is_displayed(), "no sign-in form")
        self.el("#token").send_keys(self.token)
        self.click("#signin")
        self.wait.until(lambda d: self.el("#devices").is_displayed(), "the token was refused")

    def device_list(self, device, shot):
        row = f'#machines tr[data-id="{device}"]'
        self.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, row), "device not listed")
        name = self.wait.until(lambda d: self.el(row + " a").text, "no device name")
        # the filter box: the device's name keeps it, a name no device has hides it
        self.el("#filter").send_keys("no-such-device-name")
        self.wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, row), "filter ignored")
        self.el("#filter").clear()
        self.el("#filter").send_keys(name)
        self.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, row), "filter hid it")
        self.el("#filter").clear()
        self.d.execute_script("document.getElementById('filter').dispatchEvent(new Event('input'))")
        if shot:
            time.sleep(0.3)
            self.shot(shot)
        self.click(row + " a")
        self.wait.until(lambda d: self.el("#device").is_displayed(), "no device page")

    def act(self, button, comment, want_state, shot):
        self.wait.until(lambda d: self.el(button).is_enabled(), f"{button} stays disabled")
        self.click(button)
        self.wait.until(lambda d: self.el("#comment-dialog").is_displayed(), "no comment box")
        self.el("#comment").send_keys(comment)
        self.click("#comment-ok")
        seen = []

        def final(d):
            s = self.el("#action-status").text.strip()
            if s and (not seen or seen[-1] != s):
                seen.append(s)
            return s in ("Succeeded", "Failed", "TimeOut", "Cancelled")
        self.wait.until(final, "the action never reached a final state")
        print(f"{button}: action status went {' -> '.join(seen)}", file=sys.stderr)
        if seen[-1] != "Succeeded":
            raise AssertionError(f"the action ended {seen[-1]}: "
                                 + self.el("#action-error").text)
        self.text_is("#isolation-state", want_state)
        self.wait.until(lambda d: comment in self.el("#device-actions tbody").text,
                        "the action is not in the device's recent actions")
        self.shot(shot)


def main():
    url, token, device, phase, shots = sys.argv[1:6]
    for path in (CHROMIUM, DRIVER):
        if not os.access(path, os.X_OK):
            print(f"{path} is not installed", file=sys.stderr)
            return 77
    os.makedirs(shots, exist_ok=True)
    p = Page(url, token, shots)
    try:
        p.sign_in()
        if phase == "isolate":
            p.device_list(device, "1-devices")
            p.text_is("#isolation-state", "Not isolated")
            p.shot("2-device")
            p.act("#isolate-btn", "INC-4711 suspected compromise (browser test)", "Isolated",
                  "3-isolated")
        else:
            p.device_list(device, None)
            p.text_is("#isolation-state", "Isolated")
            p.act("#release-btn", "INC-4711 closed (browser test)", "Not isolated",
                  "4-released")
            p.click("#nav-actions")
            p.wait.until(lambda d: "INC-4711 closed" in p.el("#fleet-actions tbody").text,
                         "the fleet's action list lacks the release")
            p.shot("5-actions")
            p.d.set_window_size(390, 844)
            p.click("#nav-devices")
            p.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#machines tbody tr"),
                         "no device list on a phone")
            time.sleep(0.3)
            p.shot("6-phone")
    except Exception as e:  # a Selenium timeout or an assertion: say which step
        p.shot("failed-" + phase)
        print(f"browser test, {phase}: {e}", file=sys.stderr)
        return 1
    finally:
        p.d.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())

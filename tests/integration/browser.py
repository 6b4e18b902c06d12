"""Headless Chromium (Debian's package, driven by Selenium through Debian's chromedriver) that arrives at the
platform the way a person does: through the proxy, by name, trusting the stack CA from its own certificate
store, with no certificate error ignored. Screenshots go to ``shots`` (DAP_SCREENSHOTS=docs/screenshots
refreshes the README's)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def available() -> Optional[str]:
    """None when the browser can run here, else what is missing."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (Debian packages chromium and chromium-driver: make setup)"
    if shutil.which("certutil") is None:
        return "certutil is missing (Debian package libnss3-tools: make setup)"
    return None


class Browser:
    def __init__(self, domain: str, https_port: int, ca_file: Path, workdir: Path, shots: Path, address: str = "127.0.0.1"):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.domain, self.https_port, self.shots = domain, https_port, shots
        shots.mkdir(parents=True, exist_ok=True)
        # Chromium on Linux trusts what the NSS database in $HOME/.pki/nssdb holds: the stack CA goes there.
        home = Path(tempfile.mkdtemp(prefix="browser-", dir=workdir))  # a new profile and certificate store each time
        nssdb = home / ".pki" / "nssdb"
        nssdb.mkdir(parents=True)
        for args in (["-N", "--empty-password"], ["-A", "-n", "dap-stack-ca", "-t", "C,,", "-i", str(ca_file)]):
            subprocess.run(["certutil", *args, "-d", f"sql:{nssdb}"], check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=30)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900",
                    f"--user-data-dir={home / 'profile'}", "--no-first-run", "--disable-extensions",
                    f"--host-resolver-rules=MAP *.{domain} {address}, EXCLUDE localhost"):
            opts.add_argument(arg)
        service = Service(executable_path=CHROMEDRIVER, env={**os.environ, "HOME": str(home)})
        self.driver = webdriver.Chrome(service=service, options=opts)
        self.driver.set_page_load_timeout(60)

    def close(self) -> None:
        self.driver.quit()

    def url(self, name: str, path: str = "/") -> str:
        return f"https://{name}.{self.domain}:{self.https_port}{path}"

    def basic_auth(self, user: Optional[str], password: Optional[str] = None) -> None:
        """Send the Authorization header a browser sends after its basic-auth prompt (credentials in the URL
        would break the page's own fetches), or stop sending it (None)."""
        headers = {}
        if user is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})

    def open(self, name: str, path: str = "/") -> None:
        self.driver.get(self.url(name, path))

    def text(self) -> str:
        return self.driver.execute_script("return document.body ? document.body.innerText : ''") or ""

    def wait_for(self, what: str, condition: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except Exception:  # noqa: BLE001 the page is still loading: try again
                pass
            time.sleep(0.5)
        self.shot(f"failed-{what.replace(' ', '-')}")
        raise AssertionError(f"{what}: not seen within {timeout} s at {self.driver.current_url}; page text: {self.text()[:800]!r}")

    def wait_text(self, needle: str, timeout: float = 60) -> None:
        self.wait_for(f"text {needle!r}", lambda: needle in self.text(), timeout)

    def css(self, selector: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def xpath(self, expression: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.XPATH, expression)

    def fill(self, selector: str, value: str) -> None:
        self.wait_for(f"field {selector}", lambda: bool(self.css(selector)) and self.css(selector)[0].is_displayed())
        field = self.css(selector)[0]
        field.clear()
        field.send_keys(value)

    def sign_in(self, name: str, path: str, fields: dict[str, str], submit: str = "button[type=submit]") -> None:
        """Open a sign-in page, fill its fields (CSS selector -> value) and submit it, as a person does."""
        self.open(name, path)
        for selector, value in fields.items():
            self.fill(selector, value)
        self.css(submit)[0].click()

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

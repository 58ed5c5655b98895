"""Headless Chromium clicks through the demo page like a person would.

Run by scripts/browser-check, which starts the emulator, the auth-service and
the edge and passes:

  EDGE_URL     the demo page, on host "localhost" (cookies are per host)
  EMULATOR_URL the Kakao emulator's base URL
  SHOT_DIR     where the screenshots go
  CHROMIUM     the browser binary (default /usr/bin/chromium)

Flow: logged out -> "카카오 로그인" -> emulator consent (pick a user, agree)
-> back on the demo page with the nickname shown -> tokens only in HttpOnly
cookies, nothing secret in the URL -> refresh -> logout -> logged out; then
the cancel path shows error access_denied. Prints one line per check and
"browser_login: N passed, N failed" last; exits 1 on any failure.
"""

import os
import re
import sys
import tempfile
import traceback
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import sync_playwright

EDGE_URL = os.environ.get("EDGE_URL", "http://localhost:8080/")
EMULATOR_URL = os.environ.get("EMULATOR_URL", "http://127.0.0.1:8081")
SHOT_DIR = os.environ.get("SHOT_DIR", "target/browser-check")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
KAKAO_USER = os.environ.get("KAKAO_USER", "3208537903")
NICKNAME = os.environ.get("KAKAO_NICKNAME", "홍길동 🙂")
LOGGED_OUT = "로그인되지 않음"
TIMEOUT_MS = 15_000
SECRET_PARAMS = {"code", "state", "access_token", "refresh_token", "token", "binding"}

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, what):
        self.passed += 1
        print(f"ok   {what}", flush=True)

    def check(self, cond, what, detail=""):
        if cond:
            self.ok(what)
        else:
            self.failed += 1
            print(f"FAIL {what}" + (f": {detail}" if detail else ""), flush=True)
        return cond


def origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def redact(url):
    return re.sub(r"([?&](?:code|state|nonce|code_challenge|binding)=)[^&]*", r"\1<redacted>", url)


def expected_failure(res):
    """401 from /auth/me while logged out; browsers ask for /favicon.ico."""
    path = urlsplit(res.url).path
    return (path == "/auth/me" and res.status == 401) or (path == "/favicon.ico" and res.status == 404)


def wait_text(page, selector, text):
    page.wait_for_function(
        "([sel, text]) => { const el = document.querySelector(sel);"
        " return !!el && el.textContent.includes(text); }",
        arg=[selector, text],
        timeout=TIMEOUT_MS,
    )


def run(c, page, context):
    edge = origin(EDGE_URL)
    emulator = origin(EMULATOR_URL)

    # 1. The demo page, logged out.
    page.goto(EDGE_URL)
    wait_text(page, "#nickname", LOGGED_OUT)
    c.ok(f"demo page at {EDGE_URL} shows the logged-out state")

    # 2. "카카오 로그인" leads to the emulator's consent page.
    login = page.locator("#login")
    c.check(login.inner_text().strip() == "카카오 로그인", 'the #login button reads "카카오 로그인"')
    login.click()
    page.wait_for_url(f"{emulator}/oauth/authorize?**", timeout=TIMEOUT_MS)
    radio = page.locator(f"#user-{KAKAO_USER}")
    radio.wait_for(timeout=TIMEOUT_MS)
    c.check(
        page.locator("#agree").is_visible() and page.locator("#cancel").is_visible(),
        f"clicking #login opens the emulator consent page ({redact(page.url)[:90]}…)",
    )

    os.makedirs(SHOT_DIR, exist_ok=True)
    page.screenshot(path=os.path.join(SHOT_DIR, "consent.png"), full_page=True)

    # 3. Pick the user and agree: back on the demo page, logged in.
    radio.check()
    page.locator("#agree").click()
    page.wait_for_url(f"{edge}/**", timeout=TIMEOUT_MS)
    wait_text(page, "#nickname", NICKNAME)
    c.ok(f'after #agree the demo page shows the nickname "{NICKNAME}" in #nickname')
    shot = os.path.join(SHOT_DIR, "logged-in.png")
    page.screenshot(path=shot, full_page=True)
    print(f"     screenshot: {shot}", flush=True)

    # 4. Nothing secret in the URL; the tokens only in HttpOnly cookies.
    final = urlsplit(page.url)
    leaked = SECRET_PARAMS & set(parse_qs(final.query)) or ("token" in final.fragment)
    c.check(
        origin(page.url) == edge and not leaked,
        f"the final URL carries no code, state or token ({redact(page.url)})",
    )
    visible = page.evaluate("document.cookie")
    c.check(
        "access_token" not in visible and "refresh_token" not in visible,
        "document.cookie does not expose access_token or refresh_token",
        f"document.cookie has names {[p.split('=')[0] for p in visible.split('; ') if p]}",
    )
    jar = {ck["name"]: ck for ck in context.cookies([EDGE_URL, f"{edge}/auth/refresh"])}
    access, refresh = jar.get("access_token"), jar.get("refresh_token")
    c.check(
        access is not None
        and refresh is not None
        and all(ck["httpOnly"] and ck["secure"] and ck["sameSite"] == "Lax" for ck in (access, refresh))
        and refresh["path"] == "/auth",
        "the browser holds access_token and refresh_token as HttpOnly, Secure, SameSite=Lax cookies",
        f"cookies: {sorted(jar)}",
    )
    body = page.content()
    c.check(
        access is not None and access["value"] not in body and refresh["value"] not in body,
        "no token appears in the page",
    )

    # 5. Refresh keeps the user logged in.
    page.locator("#refresh").click()
    wait_text(page, "#status", "Tokens refreshed")
    wait_text(page, "#nickname", NICKNAME)
    c.ok("clicking #refresh rotates the tokens and the nickname stays")

    # 6. Logout.
    page.locator("#logout").click()
    wait_text(page, "#status", "Logged out")
    wait_text(page, "#nickname", LOGGED_OUT)
    left = {ck["name"] for ck in context.cookies([EDGE_URL, f"{edge}/auth/refresh"])}
    c.check(
        not ({"access_token", "refresh_token"} & left),
        "clicking #logout shows the logged-out state and clears the token cookies",
        f"cookies left: {sorted(left)}",
    )
    page.reload()
    wait_text(page, "#nickname", LOGGED_OUT)
    c.ok("after a reload the page is still logged out")

    # 7. The cancel path ends on the demo page with error access_denied.
    page.locator("#login").click()
    page.wait_for_url(f"{emulator}/oauth/authorize?**", timeout=TIMEOUT_MS)
    page.locator("#cancel").click()
    page.wait_for_url(f"{edge}/**", timeout=TIMEOUT_MS)
    error = page.locator("#error")
    error.wait_for(state="visible", timeout=TIMEOUT_MS)
    wait_text(page, "#error", "access_denied")
    query = parse_qs(urlsplit(page.url).query)
    c.check(
        query.get("error") == ["access_denied"] and not (SECRET_PARAMS & set(query)),
        f"#cancel lands on the demo page with #error showing access_denied ({error.inner_text()[:60]}…)",
        f"url {redact(page.url)}",
    )
    wait_text(page, "#nickname", LOGGED_OUT)
    page.screenshot(path=os.path.join(SHOT_DIR, "cancelled.png"), full_page=True)
    c.ok("after cancelling the page is logged out")


def main():
    c = Checks()
    page_errors = []
    with tempfile.TemporaryDirectory(prefix="browser-check-profile.") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            locale="ko-KR",
            viewport={"width": 900, "height": 640},
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.pages[0] if context.pages else context.new_page()
        page.on("pageerror", lambda exc: page_errors.append(str(exc)))
        # Console errors (script errors, CSP violations); failed loads are
        # judged from the responses below instead.
        page.on(
            "console",
            lambda msg: page_errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None,
        )
        page.on("response", lambda res: page_errors.append(f"HTTP {res.status} {redact(res.url)}")
                if res.status >= 400 and not expected_failure(res) else None)
        try:
            run(c, page, context)
        except Exception as exc:  # a timeout or a missing element
            c.check(False, "the click-through finished", f"{type(exc).__name__}: {exc}".splitlines()[0])
            traceback.print_exc(limit=3)
            try:
                os.makedirs(SHOT_DIR, exist_ok=True)
                page.screenshot(path=os.path.join(SHOT_DIR, "failure.png"), full_page=True)
                print(f"     failure screenshot: {SHOT_DIR}/failure.png, at {redact(page.url)}")
            except Exception:
                pass
        c.check(
            not page_errors,
            "no script errors, CSP violations or failed loads on the pages",
            "; ".join(page_errors)[:400],
        )
        context.close()
    print(f"browser_login: {c.passed} passed, {c.failed} failed", flush=True)
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

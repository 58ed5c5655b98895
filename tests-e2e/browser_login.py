"""Headless Chromium clicks through the demo page like a person would.

Run by scripts/browser-check, which starts the emulator, the auth-service and
the edge and passes:

  EDGE_URL     the demo page, on host "localhost" (cookies are per host)
  EMULATOR_URL the emulator's base URL (Kakao at /, Naver at /naver,
               Google at /google)
  SHOT_DIR     where the screenshots go
  CHROMIUM     the browser binary (default /usr/bin/chromium)
  SEEN_SECRETS optional file: every authorization code and token cookie the
               browser saw is written there, one a line, so browser-check
               can look for these exact values in the services' logs

Flow: logged out -> "카카오 로그인" -> emulator consent (pick a user, agree)
-> back on the demo page with the nickname shown -> tokens only in HttpOnly
cookies, nothing secret in the URL -> refresh -> logout -> logged out; then
the cancel path shows error access_denied. Then "네이버 로그인" (pick a Naver
account, agree) -> nickname and the Naver identity shown, the same cookie and
URL checks -> logout; "Google 로그인" (pick a Google account) -> Google
identity shown -> linking the Naver account that already belongs to the
Naver user is refused (identity_in_use) -> linking a Kakao account through
the page's link button and the emulator's consent -> two identities listed
-> unlinking Kakao with its button leaves one. Prints one line per check and
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
SEEN_SECRETS = os.environ.get("SEEN_SECRETS", "")
# The emulator's default accounts (kakao-emulator/src/naver/config.rs,
# google/config.rs, config.rs). The Kakao account linked to the Google user
# is another one than the first login's: that one already has its own user.
NAVER_USER, NAVER_NICKNAME, NAVER_EMAIL = "gildong", "길동이 🌿", "gildong@naver.com"
GOOGLE_USER, GOOGLE_NICKNAME, GOOGLE_EMAIL = "110248495921238986420", "김구글 🙂", "kim.google@gmail.com"
LINK_KAKAO_USER, LINK_KAKAO_EMAIL = "3208537906", "default@example.com"
# The demo page's names of the providers (http-edge/assets/demo.js).
PROVIDER_NAMES = {"kakao": "카카오 · Kakao", "naver": "네이버 · Naver", "google": "Google"}
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


class Seen:
    """The codes and token cookies the browser saw, for browser-check's exact
    search of the services' logs (never printed)."""

    def __init__(self):
        self.values = set()

    def request(self, req):
        parts = urlsplit(req.url)
        if parts.path.startswith("/auth/") and parts.path.endswith("/callback"):
            raw = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
            if raw.get("code"):
                self.values.add(raw["code"])  # as sent, percent-encoded
            for code in parse_qs(parts.query).get("code", []):
                self.values.add(code)  # decoded: Google's 4/0A… has a slash

    def cookies(self, context, edge):
        for ck in context.cookies([EDGE_URL, f"{edge}/auth/refresh"]):
            if ck["name"] in ("access_token", "refresh_token") and len(ck["value"]) >= 16:
                self.values.add(ck["value"])

    def write(self):
        if SEEN_SECRETS:
            fd = os.open(SEEN_SECRETS, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.writelines(v + "\n" for v in sorted(self.values) if len(v) >= 8)


def shot(page, name):
    path = os.path.join(SHOT_DIR, name)
    page.screenshot(path=path, full_page=True)
    print(f"     screenshot: {path}", flush=True)


def identities(page):
    """Provider slug -> {"linked", "unlink", "text"} as the page lists them."""
    rows = page.evaluate(
        "() => Array.from(document.querySelectorAll('#identities li')).map(li => ({"
        " name: (li.querySelector('strong') || {}).textContent || '',"
        " linked: !li.querySelector('a.link'),"
        " unlink: !!li.querySelector('button.unlink'),"
        " text: li.textContent }))"
    )
    slugs = {name: slug for slug, name in PROVIDER_NAMES.items()}
    return {slugs.get(r["name"], r["name"]): r for r in rows}


def wait_linked(page, slugs):
    """Until the identity list shows exactly `slugs` as linked."""
    names = sorted(PROVIDER_NAMES[s] for s in slugs)
    page.wait_for_function(
        "(names) => { const acc = document.getElementById('accounts');"
        " if (!acc || acc.hidden) return false;"
        " const lis = Array.from(document.querySelectorAll('#identities li'));"
        " if (lis.length !== 3) return false;"
        " const linked = lis.filter(li => !li.querySelector('a.link'))"
        "   .map(li => li.querySelector('strong').textContent).sort();"
        " return JSON.stringify(linked) === JSON.stringify(names); }",
        arg=names,
        timeout=TIMEOUT_MS,
    )


def check_clean_url(c, page, edge, what):
    final = urlsplit(page.url)
    leaked = SECRET_PARAMS & set(parse_qs(final.query)) or ("token" in final.fragment)
    return c.check(
        origin(page.url) == edge and not leaked,
        f"{what}: the final URL carries no code, state or token ({redact(page.url)})",
    )


def check_cookies(c, page, context, edge, what):
    """Tokens only in HttpOnly, Secure, SameSite=Lax cookies; none in the page."""
    visible = page.evaluate("document.cookie")
    c.check(
        "access_token" not in visible and "refresh_token" not in visible,
        f"{what}: document.cookie does not expose access_token or refresh_token",
        f"document.cookie has names {[p.split('=')[0] for p in visible.split('; ') if p]}",
    )
    jar = {ck["name"]: ck for ck in context.cookies([EDGE_URL, f"{edge}/auth/refresh"])}
    access, refresh = jar.get("access_token"), jar.get("refresh_token")
    c.check(
        access is not None
        and refresh is not None
        and all(ck["httpOnly"] and ck["secure"] and ck["sameSite"] == "Lax" for ck in (access, refresh))
        and refresh["path"] == "/auth",
        f"{what}: the browser holds access_token and refresh_token as HttpOnly, Secure, SameSite=Lax cookies",
        f"cookies: {sorted(jar)}",
    )
    body = page.content()
    c.check(
        access is not None and access["value"] not in body and refresh["value"] not in body,
        f"{what}: no token appears in the page",
    )


def logout(c, page, context, edge, what):
    page.locator("#logout").click()
    wait_text(page, "#status", "Logged out")
    wait_text(page, "#nickname", LOGGED_OUT)
    left = {ck["name"] for ck in context.cookies([EDGE_URL, f"{edge}/auth/refresh"])}
    c.check(
        not ({"access_token", "refresh_token"} & left),
        f"{what}: clicking #logout shows the logged-out state and clears the token cookies",
        f"cookies left: {sorted(left)}",
    )


def consent(c, page, url_glob, user, what):
    """On the emulator's consent page: pick `user`; the agree button is there."""
    page.wait_for_url(url_glob, timeout=TIMEOUT_MS)
    radio = page.locator(f"#user-{user}")
    radio.wait_for(timeout=TIMEOUT_MS)
    c.check(
        page.locator("#agree").is_visible() and page.locator("#cancel").is_visible(),
        f"{what} opens the emulator consent page ({redact(page.url)[:90]}…)",
    )
    radio.check()


def run(c, page, context, seen):
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
    shot(page, "logged-in.png")

    # 4. Nothing secret in the URL; the tokens only in HttpOnly cookies.
    seen.cookies(context, edge)
    check_clean_url(c, page, edge, "Kakao")
    check_cookies(c, page, context, edge, "Kakao")

    # 5. Refresh keeps the user logged in.
    page.locator("#refresh").click()
    wait_text(page, "#status", "Tokens refreshed")
    wait_text(page, "#nickname", NICKNAME)
    seen.cookies(context, edge)
    c.ok("clicking #refresh rotates the tokens and the nickname stays")

    # 6. Logout.
    logout(c, page, context, edge, "Kakao")
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

    run_naver(c, page, context, seen, edge, emulator)
    run_google_link_unlink(c, page, context, seen, edge, emulator)


def run_naver(c, page, context, seen, edge, emulator):
    # 8. "네이버 로그인" -> Naver consent at the emulator -> logged in.
    page.goto(EDGE_URL)
    wait_text(page, "#nickname", LOGGED_OUT)
    naver = page.locator("#logins a.naver")
    c.check(naver.inner_text().strip() == "네이버 로그인", 'the Naver button reads "네이버 로그인"')
    naver.click()
    consent(c, page, f"{emulator}/naver/oauth2.0/authorize?**", NAVER_USER, '"네이버 로그인"')
    shot(page, "naver-consent.png")
    page.locator("#agree").click()
    page.wait_for_url(f"{edge}/**", timeout=TIMEOUT_MS)
    wait_text(page, "#nickname", NAVER_NICKNAME)
    wait_linked(page, ["naver"])
    rows = identities(page)
    # The service keeps no Naver e-mail (unverified contact address, see
    # auth-service/src/naver/profile.rs): the line must not show it.
    c.check(
        "연결 (linked)" in rows["naver"]["text"]
        and NAVER_EMAIL not in page.content()
        and not rows["naver"]["unlink"],
        f'after Naver\'s consent the page shows "{NAVER_NICKNAME}" and only the Naver identity'
        " (linked, without its unkept e-mail and without an unlink button)",
        str({k: v["text"] for k, v in rows.items()}),
    )
    shot(page, "naver-logged-in.png")
    seen.cookies(context, edge)
    check_clean_url(c, page, edge, "Naver")
    check_cookies(c, page, context, edge, "Naver")

    # 9. Logout.
    logout(c, page, context, edge, "Naver")
    shot(page, "naver-logged-out.png")


def run_google_link_unlink(c, page, context, seen, edge, emulator):
    # 10. "Google 로그인" -> Google's account chooser at the emulator.
    google = page.locator("#logins a.google")
    c.check(google.inner_text().strip() == "Google 로그인", 'the Google button reads "Google 로그인"')
    google.click()
    consent(c, page, f"{emulator}/google/o/oauth2/v2/auth?**", GOOGLE_USER, '"Google 로그인"')
    shot(page, "google-consent.png")
    page.locator("#agree").click()
    page.wait_for_url(f"{edge}/**", timeout=TIMEOUT_MS)
    wait_text(page, "#nickname", GOOGLE_NICKNAME)
    wait_linked(page, ["google"])
    rows = identities(page)
    c.check(
        GOOGLE_EMAIL in rows["google"]["text"],
        f'after Google\'s consent the page shows "{GOOGLE_NICKNAME}" and only the Google identity ({GOOGLE_EMAIL})',
        str({k: v["text"] for k, v in rows.items()}),
    )
    shot(page, "google-logged-in.png")
    seen.cookies(context, edge)
    check_clean_url(c, page, edge, "Google")
    check_cookies(c, page, context, edge, "Google")

    # 11. Linking the Naver account the Naver user already has is refused.
    page.locator("#identities a.link.naver").click()
    consent(c, page, f"{emulator}/naver/oauth2.0/authorize?**", NAVER_USER, "Naver's link button")
    page.locator("#agree").click()
    page.wait_for_url(f"{edge}/**", timeout=TIMEOUT_MS)
    wait_text(page, "#error", "identity_in_use")
    wait_text(page, "#nickname", GOOGLE_NICKNAME)
    wait_linked(page, ["google"])
    query = parse_qs(urlsplit(page.url).query)
    c.check(
        query.get("error") == ["identity_in_use"] and not (SECRET_PARAMS & set(query)),
        "linking a Naver account that belongs to another user is refused: #error shows"
        " identity_in_use, the Google user keeps one identity",
        f"url {redact(page.url)}",
    )
    shot(page, "link-refused.png")

    # 12. Link Kakao with the page's link button, consent at the emulator.
    page.goto(EDGE_URL)
    wait_linked(page, ["google"])
    link = page.locator("#identities a.link.kakao")
    link.click()
    consent(c, page, f"{emulator}/oauth/authorize?**", LINK_KAKAO_USER, "Kakao's link button")
    shot(page, "link-consent.png")
    page.locator("#agree").click()
    page.wait_for_url(f"{edge}/**", timeout=TIMEOUT_MS)
    wait_linked(page, ["google", "kakao"])
    wait_text(page, "#nickname", GOOGLE_NICKNAME)
    rows = identities(page)
    c.check(
        LINK_KAKAO_EMAIL in rows["kakao"]["text"]
        and GOOGLE_EMAIL in rows["google"]["text"]
        and rows["kakao"]["unlink"]
        and rows["google"]["unlink"]
        and not rows["naver"]["linked"],
        "after linking, the page lists two identities (Google and Kakao), each with an unlink button;"
        " the user is still the Google one",
        str({k: v["text"] for k, v in rows.items()}),
    )
    seen.cookies(context, edge)
    check_clean_url(c, page, edge, "link")
    shot(page, "linked.png")

    # 13. Unlink Kakao with its button: one identity left, no unlink button.
    page.locator('#identities button.unlink[data-provider="kakao"]').click()
    wait_text(page, "#status", "Unlinked")
    wait_linked(page, ["google"])
    rows = identities(page)
    c.check(
        not rows["google"]["unlink"] and not rows["kakao"]["linked"],
        "clicking Kakao's unlink button leaves only the Google identity, which cannot be unlinked",
        str({k: v["text"] for k, v in rows.items()}),
    )
    page.reload()
    wait_text(page, "#nickname", GOOGLE_NICKNAME)
    wait_linked(page, ["google"])
    c.ok("after a reload the Google user still has one identity")
    shot(page, "unlinked.png")
    logout(c, page, context, edge, "Google")


def main():
    c = Checks()
    seen = Seen()
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
        context.on("request", seen.request)
        page.on("response", lambda res: page_errors.append(f"HTTP {res.status} {redact(res.url)}")
                if res.status >= 400 and not expected_failure(res) else None)
        try:
            run(c, page, context, seen)
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
    seen.write()
    print(f"browser_login: {c.passed} passed, {c.failed} failed", flush=True)
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

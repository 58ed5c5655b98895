//! A browser's view of the system: an HTTP client that never follows
//! redirects, the headers a browser reads (`Location`, `Set-Cookie`), a
//! cookie jar, the user at Kakao's consent page, and the edge's login flow.

use std::{collections::HashMap, fmt, time::Duration};

use cookie::Cookie;
use reqwest::{
    Response,
    header::{self, HeaderMap},
};
use url::Url;

/// A plain HTTP client that never follows redirects.
pub fn http() -> reqwest::Client {
    service_kit::crypto::install();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest client")
}

/// The query pairs of a URL.
pub fn query(url: &str) -> HashMap<String, String> {
    Url::parse(url)
        .expect("absolute url")
        .query_pairs()
        .into_owned()
        .collect()
}

/// `s` percent-encoded for a query value.
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A header's value as text (`None` when absent; panics when not ASCII).
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .map(|v| v.to_str().expect("an ASCII header value"))
}

/// The `Location` of a redirect (panics when absent).
pub fn location(res: &Response) -> String {
    header(res.headers(), header::LOCATION.as_str())
        .expect("Location")
        .to_owned()
}

/// Every `Set-Cookie` header as sent, in order.
pub fn set_cookie_lines(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("an ASCII Set-Cookie").to_owned())
        .collect()
}

/// The cookies a response sets, by name, parsed with
/// [`cookie::Cookie::parse`]. A cleared cookie has an empty value and
/// `Max-Age=0`.
pub fn set_cookies(res: &Response) -> HashMap<String, Cookie<'static>> {
    set_cookie_lines(res.headers())
        .into_iter()
        .map(|line| {
            let cookie = Cookie::parse(line.clone())
                .unwrap_or_else(|e| panic!("Set-Cookie {line:?} does not parse: {e}"));
            (cookie.name().to_owned(), cookie)
        })
        .collect()
}

/// A `Cookie` header with the cookies a response set (cleared ones left
/// out): what a browser sends after that one response.
pub fn cookie_header(res: &Response) -> String {
    CookieJar::from_response(res).header()
}

/// The cookies a browser holds for the edge: what `Set-Cookie` set, less
/// what it cleared. Paths and expiry are not modelled.
#[derive(Debug, Clone, Default)]
pub struct CookieJar {
    cookies: std::collections::BTreeMap<String, String>,
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> CookieJar {
        CookieJar::default()
    }

    /// A jar holding what `res` set.
    pub fn from_response(res: &Response) -> CookieJar {
        let mut jar = CookieJar::new();
        jar.absorb(res);
        jar
    }

    /// Takes in the `Set-Cookie` headers of `res`: sets and clears.
    pub fn absorb(&mut self, res: &Response) {
        for (name, cookie) in set_cookies(res) {
            let cleared =
                cookie.value().is_empty() || cookie.max_age().is_some_and(|age| age.is_zero());
            if cleared {
                self.cookies.remove(&name);
            } else {
                self.cookies.insert(name, cookie.value().to_owned());
            }
        }
    }

    /// The value of the cookie `name`, if held.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// The `Cookie` header a browser would send (`a=1; b=2`; empty when
    /// the jar is empty).
    pub fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Plays the user at the emulator's consent page: opens the authorize URL
/// (checks the page), then agrees (or cancels) as `user_id`. Returns the
/// callback URL Kakao sends the browser to.
pub async fn consent(authorize_url: &str, user_id: i64, agree: bool) -> String {
    consent_as(authorize_url, &user_id.to_string(), agree).await
}

/// [`consent`] at any emulated provider (Kakao, Naver or Google: each
/// consent page posts to its authorize path + `/decision`), as the account
/// `user` (a Kakao id, a Naver account key, a Google `sub`).
pub async fn consent_as(authorize_url: &str, user: &str, agree: bool) -> String {
    let http = http();
    let page = http
        .get(authorize_url)
        .send()
        .await
        .expect("authorize page");
    assert_eq!(page.status(), 200, "consent page");
    let parsed = Url::parse(authorize_url).expect("authorize url");
    let mut form: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    form.push(("user_id".into(), user.to_owned()));
    form.push((
        "action".into(),
        if agree { "agree" } else { "cancel" }.into(),
    ));
    let mut decision = parsed.clone();
    decision.set_query(None);
    decision.set_path(&format!("{}/decision", parsed.path()));
    let res = http
        .post(decision)
        .form(&form)
        .send()
        .await
        .expect("decision");
    assert_eq!(res.status(), 302, "decision redirects");
    location(&res)
}

/// A browser talking to one edge (`Display` shows the edge's base URL).
#[derive(Clone)]
pub struct EdgeClient {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Never follows redirects.
    pub http: reqwest::Client,
}

impl fmt::Display for EdgeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

impl EdgeClient {
    /// A client of the edge at `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: impl Into<String>) -> EdgeClient {
        EdgeClient {
            base: base.into(),
            http: http(),
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path` with a `Cookie` header (none when `cookies` is empty).
    pub async fn get(&self, path: &str, cookies: &str) -> Response {
        let mut req = self.http.get(self.url(path));
        if !cookies.is_empty() {
            req = req.header(header::COOKIE, cookies);
        }
        req.send().await.expect("edge answers")
    }

    /// `POST path` with a `Cookie` header (none when `cookies` is empty) and
    /// an optional `Origin`.
    pub async fn post(&self, path: &str, cookies: &str, origin: Option<&str>) -> Response {
        let mut req = self.http.post(self.url(path));
        if !cookies.is_empty() {
            req = req.header(header::COOKIE, cookies);
        }
        if let Some(origin) = origin {
            req = req.header(header::ORIGIN, origin);
        }
        req.send().await.expect("edge answers")
    }

    /// `GET /auth/me` with `cookies`: the edge verifies the access token.
    pub async fn me(&self, cookies: &str) -> Response {
        self.get("/auth/me", cookies).await
    }

    /// Whether `GET /readyz` answers 200 (the edge serves and its service
    /// answers SERVING).
    pub async fn is_ready(&self) -> bool {
        self.http
            .get(self.url("/readyz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    }

    /// Step 1: the login redirect (no `return_to` when empty). Returns
    /// (authorize URL, binding cookie pair).
    pub async fn begin(&self, return_to: &str) -> (String, String) {
        let path = if return_to.is_empty() {
            "/auth/kakao/login".to_owned()
        } else {
            format!("/auth/kakao/login?return_to={}", urlencode(return_to))
        };
        let res = self.get(&path, "").await;
        assert_eq!(res.status(), 302, "login redirects to Kakao");
        let binding = CookieJar::from_response(&res)
            .get("__Host-kakao_login_binding")
            .expect("binding cookie")
            .to_owned();
        (
            location(&res),
            format!("__Host-kakao_login_binding={binding}"),
        )
    }

    /// Step 3: Kakao's redirect arrives at this edge's callback.
    pub async fn callback(&self, kakao_redirect: &str, cookies: &str) -> Response {
        let url = Url::parse(kakao_redirect).expect("callback URL");
        assert_eq!(url.path(), "/auth/kakao/callback");
        self.get(
            &format!("/auth/kakao/callback?{}", url.query().unwrap_or("")),
            cookies,
        )
        .await
    }

    /// A full login of `user` through this edge and the emulator; returns
    /// the callback's response (its cookies: [`cookie_header`]).
    pub async fn login(&self, user: i64, return_to: &str) -> Response {
        login_across(self, self, user, return_to).await
    }
}

/// A full login that starts on `first` and comes back to `second`; returns
/// the callback's response.
pub async fn login_across(
    first: &EdgeClient,
    second: &EdgeClient,
    user: i64,
    return_to: &str,
) -> Response {
    let (authorize, binding) = first.begin(return_to).await;
    let redirect = consent(&authorize, user, true).await;
    second.callback(&redirect, &binding).await
}

//! Consent pages and provider error pages. Every echoed value goes through
//! [`escape`].

use std::fmt::Write;

use crate::config::TestUser;
use crate::params::Params;

/// Parameters the decision form adds itself; originals with these names are dropped.
pub(crate) const DECISION_FIELDS: [&str; 2] = ["user_id", "action"];

/// Escape text for an HTML element body or a quoted attribute value.
pub(crate) fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"ko\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n</head>\n<body>\n{body}</body>\n</html>\n",
        title = escape(title),
    )
}

/// Kakao shows authorize errors on its own page (no redirect): a KOE code and a reason.
pub(crate) fn error_page(koe: &str, reason: &str) -> String {
    provider_error_page(
        "카카오 로그인",
        "앗, 잘못된 접근입니다. 서비스 설정에 오류가 있어, 이용할 수 없습니다.",
        koe,
        reason,
    )
}

/// A provider's own error page (no redirect): its name, a lead sentence,
/// an error code and a reason.
pub(crate) fn provider_error_page(provider: &str, lead: &str, code: &str, reason: &str) -> String {
    let body = format!(
        "<main id=\"error\">\n<h1>{provider} 오류 (에뮬레이터)</h1>\n\
         <p>{lead}</p>\n\
         <p>에러 코드: <strong id=\"error-code\">{code}</strong></p>\n\
         <p id=\"error-reason\">{reason}</p>\n</main>\n",
        provider = escape(provider),
        lead = escape(lead),
        code = escape(code),
        reason = escape(reason),
    );
    page(&format!("{code} - {provider} (에뮬레이터)"), &body)
}

/// One account on a consent page.
pub(crate) struct Choice {
    /// The value posted as `user_id`.
    pub(crate) value: String,
    /// The label, already HTML (escape what goes in).
    pub(crate) label_html: String,
}

/// What a consent page says and where its form posts.
pub(crate) struct Consent<'a> {
    /// Heading and title, e.g. "카카오 로그인 (에뮬레이터)".
    pub(crate) heading: &'a str,
    pub(crate) intro: &'a str,
    /// The decision route the form posts to.
    pub(crate) action: &'a str,
    /// The accounts; the first is preselected.
    pub(crate) choices: Vec<Choice>,
    /// A paragraph `<p id="scope">` under the accounts, if any.
    pub(crate) scope_note: Option<String>,
    pub(crate) agree: &'a str,
    pub(crate) cancel: &'a str,
}

/// A consent page: one radio button per account, agree and cancel buttons,
/// and every original authorize parameter as a hidden input.
pub(crate) fn consent(consent: &Consent<'_>, original: &Params) -> String {
    let mut body = format!(
        "<main>\n<h1>{heading}</h1>\n<p>{intro}</p>\n\
         <form id=\"consent\" method=\"post\" action=\"{action}\">\n",
        heading = escape(consent.heading),
        intro = escape(consent.intro),
        action = escape(consent.action),
    );
    for (name, value) in original
        .iter()
        .filter(|(name, _)| !DECISION_FIELDS.contains(name))
    {
        let _ = writeln!(
            body,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(name),
            escape(value)
        );
    }
    body.push_str("<fieldset>\n<legend>테스트 계정</legend>\n");
    for (i, choice) in consent.choices.iter().enumerate() {
        let _ = writeln!(
            body,
            "<div><input type=\"radio\" name=\"user_id\" id=\"user-{id}\" value=\"{id}\"{checked}> \
             <label for=\"user-{id}\">{label}</label></div>",
            id = escape(&choice.value),
            checked = if i == 0 { " checked" } else { "" },
            label = choice.label_html,
        );
    }
    body.push_str("</fieldset>\n");
    if let Some(note) = &consent.scope_note {
        let _ = writeln!(body, "<p id=\"scope\">{}</p>", escape(note));
    }
    let _ = write!(
        body,
        "<button type=\"submit\" id=\"agree\" name=\"action\" value=\"agree\">{agree}</button>\n\
         <button type=\"submit\" id=\"cancel\" name=\"action\" value=\"cancel\">{cancel}</button>\n\
         </form>\n</main>\n",
        agree = escape(consent.agree),
        cancel = escape(consent.cancel),
    );
    page(consent.heading, &body)
}

/// Kakao's consent page.
pub(crate) fn consent_page(users: &[TestUser], original: &Params, scope: &[String]) -> String {
    let choices = users
        .iter()
        .map(|user| {
            let email = match &user.email {
                Some(email) if user.is_email_valid => format!("이메일 제공: {}", escape(email)),
                Some(email) => format!("이메일 제공: {} (유효하지 않음)", escape(email)),
                None => "이메일 미제공".to_owned(),
            };
            Choice {
                value: user.id.to_string(),
                label_html: format!(
                    "<strong>{}</strong> (id {}) · {email}",
                    escape(&user.nickname),
                    user.id
                ),
            }
        })
        .collect();
    let consent_page = Consent {
        heading: "카카오 로그인 (에뮬레이터)",
        intro: "로그인할 테스트 계정을 고르고 동의해 주세요. 실제 카카오 계정은 필요하지 않습니다.",
        action: "/oauth/authorize/decision",
        choices,
        scope_note: (!scope.is_empty()).then(|| format!("추가 동의 항목: {}", scope.join(", "))),
        agree: "동의하고 계속하기",
        cancel: "취소",
    };
    consent(&consent_page, original)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_consent_page_carries_original_parameters_escaped_and_drops_decision_fields() {
        let original = Params::parse(b"state=%22%3E%3Cscript%3E&user_id=1&client_id=k");
        let page = consent_page(&TestUser::defaults(), &original, &[]);
        assert!(page.contains(r#"name="state" value="&quot;&gt;&lt;script&gt;""#));
        assert!(!page.contains("<script>"));
        assert!(!page.contains(r#"name="user_id" value="1""#));
        assert!(page.contains(r#"id="user-3208537903" value="3208537903" checked"#));
    }
}

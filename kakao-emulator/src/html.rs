//! The consent page and Kakao-style error pages. Every echoed value goes
//! through [`escape`].

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
    let body = format!(
        "<main id=\"error\">\n<h1>카카오 로그인 오류 (에뮬레이터)</h1>\n\
         <p>앗, 잘못된 접근입니다. 서비스 설정에 오류가 있어, 이용할 수 없습니다.</p>\n\
         <p>에러 코드: <strong id=\"error-code\">{koe}</strong></p>\n\
         <p id=\"error-reason\">{reason}</p>\n</main>\n",
        koe = escape(koe),
        reason = escape(reason),
    );
    page(&format!("{koe} - 카카오 로그인 (에뮬레이터)"), &body)
}

/// The consent page: one radio button per test user, agree and cancel
/// buttons, and every original authorize parameter as a hidden input.
pub(crate) fn consent_page(users: &[TestUser], original: &Params, scope: &[String]) -> String {
    let mut body = String::from(
        "<main>\n<h1>카카오 로그인 (에뮬레이터)</h1>\n\
         <p>로그인할 테스트 계정을 고르고 동의해 주세요. 실제 카카오 계정은 필요하지 않습니다.</p>\n\
         <form id=\"consent\" method=\"post\" action=\"/oauth/authorize/decision\">\n",
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
    for (i, user) in users.iter().enumerate() {
        let email = match &user.email {
            Some(email) if user.is_email_valid => format!("이메일 제공: {}", escape(email)),
            Some(email) => format!("이메일 제공: {} (유효하지 않음)", escape(email)),
            None => "이메일 미제공".to_owned(),
        };
        let _ = writeln!(
            body,
            "<div><input type=\"radio\" name=\"user_id\" id=\"user-{id}\" value=\"{id}\"{checked}> \
             <label for=\"user-{id}\"><strong>{nickname}</strong> (id {id}) · {email}</label></div>",
            id = user.id,
            checked = if i == 0 { " checked" } else { "" },
            nickname = escape(&user.nickname),
        );
    }
    body.push_str("</fieldset>\n");
    if !scope.is_empty() {
        let _ = writeln!(
            body,
            "<p id=\"scope\">추가 동의 항목: {}</p>",
            escape(&scope.join(", "))
        );
    }
    body.push_str(
        "<button type=\"submit\" id=\"agree\" name=\"action\" value=\"agree\">동의하고 계속하기</button>\n\
         <button type=\"submit\" id=\"cancel\" name=\"action\" value=\"cancel\">취소</button>\n\
         </form>\n</main>\n",
    );
    page("카카오 로그인 (에뮬레이터)", &body)
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

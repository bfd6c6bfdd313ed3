//! Keeps the database password out of every message: the URL is shown as
//! `postgres://app:***@host/db`, and the password itself is scrubbed from any text (a driver's
//! error message can quote the URL or parts of it).

use std::io::{self, Write};
use std::sync::Arc;

/// What replaces a secret.
const MASK: &str = "***";

/// Query parameters that carry a secret in a database URL.
const SECRET_PARAMS: [&str; 3] = ["password", "sslpassword", "pass"];

/// A database URL with its password (user info and `password=` query parameters) replaced by
/// `***`; everything else is kept so the message still says which server and database.
///
/// ```
/// use backfill_runtime::cli::redact_url;
///
/// assert_eq!(redact_url("postgres://app:s3cret@db:5432/prod"), "postgres://app:***@db:5432/prod");
/// assert_eq!(redact_url("mysql://root@127.0.0.1/test"), "mysql://root@127.0.0.1/test");
/// assert_eq!(
///     redact_url("postgres://db/prod?user=app&password=s3cret"),
///     "postgres://db/prod?user=app&password=***"
/// );
/// ```
pub fn redact_url(url: &str) -> String {
    let parts = UrlParts::split(url);
    let mut out = String::with_capacity(url.len());
    out.push_str(parts.before_password);
    if parts.password.is_some() {
        out.push_str(MASK);
    }
    let rest = parts.after_password;
    match rest.find('?') {
        Some(q) => {
            out.push_str(&rest[..q + 1]);
            let (query, fragment) = match rest[q + 1..].find('#') {
                Some(h) => (&rest[q + 1..q + 1 + h], &rest[q + 1 + h..]),
                None => (&rest[q + 1..], ""),
            };
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if is_secret_param(name) => format!("{name}={MASK}"),
                    _ => pair.to_string(),
                })
                .collect();
            out.push_str(&pairs.join("&"));
            out.push_str(fragment);
        }
        None => out.push_str(rest),
    }
    out
}

fn is_secret_param(name: &str) -> bool {
    SECRET_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// A URL cut around its password: `scheme://user:` + `password` + `@host/db?query`.
struct UrlParts<'a> {
    before_password: &'a str,
    password: Option<&'a str>,
    after_password: &'a str,
}

impl<'a> UrlParts<'a> {
    fn split(url: &'a str) -> UrlParts<'a> {
        let none = UrlParts {
            before_password: "",
            password: None,
            after_password: url,
        };
        let Some(scheme_end) = url.find("://") else {
            return none;
        };
        let authority_start = scheme_end + 3;
        let authority_len = url[authority_start..]
            .find(['/', '?', '#'])
            .unwrap_or(url.len() - authority_start);
        let authority = &url[authority_start..authority_start + authority_len];
        // The last '@' ends the user info: a password may itself contain an unescaped '@'.
        let Some(at) = authority.rfind('@') else {
            return none;
        };
        let userinfo = &authority[..at];
        let Some(colon) = userinfo.find(':') else {
            return none;
        };
        let password_start = authority_start + colon + 1;
        let password_end = authority_start + at;
        UrlParts {
            before_password: &url[..password_start],
            password: Some(&url[password_start..password_end]),
            after_password: &url[password_end..],
        }
    }
}

/// Decodes `%XX` escapes (invalid ones are kept as written).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex_digit(bytes[i + 1]), hex_digit(bytes[i + 2])) {
                out.push(hi * 16 + lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_digit(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

/// The secrets of one database URL, scrubbed out of any text before it is printed or logged.
#[derive(Debug, Clone, Default)]
pub(crate) struct Redactor {
    /// (the URL as given, the URL redacted)
    urls: Vec<(String, String)>,
    /// Passwords as written and percent-decoded, longest first.
    secrets: Vec<String>,
}

/// Passwords shorter than this are masked in URLs but not searched for in free text, where
/// they would match ordinary words and mangle the message.
const MIN_SCRUBBED_LEN: usize = 3;

impl Redactor {
    /// A redactor that knows nothing secret.
    pub(crate) fn none() -> Redactor {
        Redactor::default()
    }

    /// Adds a database URL: its password and `password=` parameters become secrets.
    pub(crate) fn add_url(&mut self, url: &str) {
        let redacted = redact_url(url);
        if redacted != url {
            self.urls.push((url.to_string(), redacted));
        }
        let mut found = Vec::new();
        if let Some(password) = UrlParts::split(url).password {
            found.push(password.to_string());
        }
        if let Some((_, query)) = url.split_once('?') {
            let query = query.split('#').next().unwrap_or("");
            for pair in query.split('&') {
                if let Some((name, value)) = pair.split_once('=') {
                    if is_secret_param(name) {
                        found.push(value.to_string());
                    }
                }
            }
        }
        for secret in found {
            let decoded = percent_decode(&secret);
            for s in [secret, decoded] {
                if s.len() >= MIN_SCRUBBED_LEN && !self.secrets.contains(&s) {
                    self.secrets.push(s);
                }
            }
        }
        self.urls
            .sort_by_key(|(url, _)| std::cmp::Reverse(url.len()));
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `text` with every known URL redacted and every known password replaced by `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (url, redacted) in &self.urls {
            if out.contains(url.as_str()) {
                out = out.replace(url.as_str(), redacted);
            }
        }
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }
}

/// A `tracing-subscriber` writer that scrubs secrets out of every log line before it reaches
/// stderr (the formatter writes one whole event per `write`).
#[derive(Clone)]
pub(crate) struct RedactingStderr {
    pub(crate) redactor: Arc<Redactor>,
}

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = self.redactor.scrub(&String::from_utf8_lossy(buf));
        super::progress_bar::above_bar(|| io::stderr().write_all(text.as_bytes()))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingStderr;

    fn make_writer(&'a self) -> RedactingStderr {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_in_user_info_is_masked() {
        assert_eq!(
            redact_url("postgres://app:s3cret@host/db"),
            "postgres://app:***@host/db"
        );
        assert_eq!(
            redact_url("postgresql://app:p%40ss@host:5432/db?sslmode=require"),
            "postgresql://app:***@host:5432/db?sslmode=require"
        );
        // An unescaped '@' in the password: the last '@' ends the user info.
        assert_eq!(
            redact_url("mysql://root:a@b@127.0.0.1:3306/test"),
            "mysql://root:***@127.0.0.1:3306/test"
        );
        assert_eq!(
            redact_url("mariadb://root:@127.0.0.1/test"),
            "mariadb://root:***@127.0.0.1/test"
        );
    }

    #[test]
    fn urls_without_a_password_are_unchanged() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgres://127.0.0.1/test",
            "sqlite:///tmp/x.db?mode=rwc",
            "sqlite:demo.db",
            "postgres://h/db?options=-c%20search_path%3Dx",
            "not a url",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }

    #[test]
    fn password_query_parameters_are_masked() {
        assert_eq!(
            redact_url("postgres://h/db?user=a&password=s3cret&sslmode=disable"),
            "postgres://h/db?user=a&password=***&sslmode=disable"
        );
        assert_eq!(
            redact_url("postgres://h/db?PASSWORD=x#frag"),
            "postgres://h/db?PASSWORD=***#frag"
        );
    }

    #[test]
    fn scrub_removes_the_url_and_the_password_in_any_form() {
        let mut r = Redactor::none();
        r.add_url("postgres://app:p%40ss-word@db.internal:5432/prod");
        assert_eq!(
            r.scrub("cannot connect to postgres://app:p%40ss-word@db.internal:5432/prod: refused"),
            "cannot connect to postgres://app:***@db.internal:5432/prod: refused"
        );
        assert_eq!(
            r.scrub("password authentication failed for p@ss-word"),
            "password authentication failed for ***"
        );
        assert_eq!(r.scrub("raw p%40ss-word"), "raw ***");
        assert_eq!(r.scrub("nothing secret here"), "nothing secret here");
    }

    #[test]
    fn short_passwords_are_masked_in_urls_only() {
        let mut r = Redactor::none();
        r.add_url("mysql://root:ab@h/db");
        assert_eq!(
            r.scrub("mysql://root:ab@h/db failed"),
            "mysql://root:***@h/db failed"
        );
        assert_eq!(r.scrub("table abc"), "table abc");
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        assert_eq!(percent_decode("a%40b"), "a@b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}

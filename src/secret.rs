//! Addresses without their secrets: the one place that takes credentials out of a URL
//! (`http://user:pw@host/…`, `postgres://user:pw@db/a?password=…`, signed links' tokens) before
//! it is stored — JSON, report pages, the web cache's records, batch.log, the archive's tables —
//! or printed in a message. The address used to fetch or connect is never this one.
#![forbid(unsafe_code)]

/// Query parameters whose value is a secret (compared without case, `-` and `_`).
const SECRET_PARAMS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "sslpassword",
    "secret",
    "clientsecret",
    "token",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "authtoken",
    "apikey",
    "key",
    "auth",
    "authorization",
    "sig",
    "signature",
    "xamzsignature",
    "xamzcredential",
    "xamzsecuritytoken",
    "xgoogsignature",
    "xgoogcredential",
    "credential",
    "credentials",
    "session",
    "sessionid",
];

/// Whether a query parameter's name says its value is a secret.
fn is_secret(name: &str) -> bool {
    let decoded = url::form_urlencoded::parse(name.as_bytes()).next().map_or_else(String::new, |(k, _)| k.into_owned());
    let n: String = decoded.chars().filter(|c| *c != '-' && *c != '_').collect::<String>().to_lowercase();
    SECRET_PARAMS.contains(&n.as_str()) || n.contains("password") || n.contains("secret") || n.ends_with("token")
}

/// `url` with no user information (`user:password@`) and no secret query parameters; anything
/// that is not a `scheme://` address comes back as it is.
pub fn address(url: &str) -> String {
    let Some(i) = url.find("://") else { return url.to_string() };
    let (scheme, rest) = url.split_at(i + 3);
    if scheme.len() <= 3
        || !scheme[..scheme.len() - 3].bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return url.to_string();
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (before_fragment, fragment) = match tail.find('#') {
        Some(f) => tail.split_at(f),
        None => (tail, ""),
    };
    let mut out = format!("{scheme}{host}");
    match before_fragment.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            let kept: Vec<&str> = query
                .split('&')
                .filter(|p| !p.is_empty() && !is_secret(p.split_once('=').map_or(*p, |(k, _)| k)))
                .collect();
            if !kept.is_empty() {
                out.push('?');
                out.push_str(&kept.join("&"));
            }
        }
        None => out.push_str(before_fragment),
    }
    out.push_str(fragment);
    out
}

/// `text` (a message, a log line) with every address in it passed through [`address`].
pub fn in_text(text: &str) -> String {
    if !text.contains("://") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        // The scheme runs back to the last character that cannot be in one.
        let start = rest[..i]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || "+-.".contains(*c))
            .last()
            .map_or(i, |(s, _)| s);
        let end = rest[i..].find(|c: char| c.is_whitespace() || "\"'<>`".contains(c)).map_or(rest.len(), |e| i + e);
        // A sentence's closing punctuation is not part of the address.
        let mut end_trim = end;
        while end_trim > i + 3 && rest[..end_trim].ends_with([',', ';', ':', '.', '!', '?', ')', ']', '}']) {
            end_trim -= 1;
        }
        out.push_str(&rest[..start]);
        out.push_str(&address(&rest[start..end_trim]));
        out.push_str(&rest[end_trim..end]);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_taken_out() {
        assert_eq!(address("http://user:pw@news.example/story.html"), "http://news.example/story.html");
        assert_eq!(address("https://user@news.example"), "https://news.example");
        assert_eq!(address("postgres://u:secret@db:5432/a"), "postgres://db:5432/a");
        assert_eq!(address("postgres://db/a?password=x&sslmode=require"), "postgres://db/a?sslmode=require");
        assert_eq!(address("postgresql://db/a?sslmode=disable&PassWord=x"), "postgresql://db/a?sslmode=disable");
        assert_eq!(
            address("https://cdn.example/v.mp4?X-Amz-Signature=abc&X-Amz-Credential=k&x=1#t=3"),
            "https://cdn.example/v.mp4?x=1#t=3"
        );
        assert_eq!(address("https://x.example/a?access_token=t&api-key=k&page=2"), "https://x.example/a?page=2");
        assert_eq!(address("https://x.example/p@th?q=a@b"), "https://x.example/p@th?q=a@b");
        assert_eq!(address("https://a:b@c@x.example/"), "https://x.example/");
        assert_eq!(address("report.mp4"), "report.mp4");
        assert_eq!(address("/media/a@b.mp4"), "/media/a@b.mp4");
        assert_eq!(address("://x"), "://x");
    }

    #[test]
    fn addresses_in_messages() {
        assert_eq!(
            in_text("cannot fetch http://u:pw@h.example/a.mp4: 404 (see https://x.example/?token=s)."),
            "cannot fetch http://h.example/a.mp4: 404 (see https://x.example/)."
        );
        assert_eq!(
            in_text("PostgreSQL archive postgres://u:pw@db/a: refused"),
            "PostgreSQL archive postgres://db/a: refused"
        );
        assert_eq!(in_text("no address here"), "no address here");
        assert_eq!(in_text("\"https://u:p@a.example/x\""), "\"https://a.example/x\"");
    }
}

//! One URL policy for every URL an admin gives Gatehouse: webhook endpoints, OpenID issuers,
//! the pages' logo and the portal's own URL. Each is parsed by the `url` crate (WHATWG rules,
//! so `https://0x7f.1/` is the address 127.0.0.1, as a browser or HTTP client would read it),
//! after a check of the raw text (no spaces, controls, quotes, angle brackets or backslashes:
//! the parser would silently encode or fold them). What differs per use is a [`UrlRules`]
//! value; the messages are the callers'.

use std::net::IpAddr;

/// Where plain `http` is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Http {
    /// `https` only.
    Never,
    /// `http` to a loopback host (`localhost`, 127.0.0.0/8, `[::1]`) too.
    Loopback,
    /// `http` to any host.
    Anywhere,
}

/// What a kind of URL may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlRules {
    pub http: Http,
    pub query: bool,
    pub fragment: bool,
    pub max_len: usize,
}

/// Why a URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlError {
    /// Empty, too long, a forbidden character, or not an absolute URL with a host.
    Malformed,
    /// A scheme other than the rules allow (`http` off loopback, `ftp`, `javascript`...).
    Scheme,
    Credentials,
    Query,
    Fragment,
}

/// A URL that passed its rules: the text as given (trimmed), and the parts a sender needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedUrl {
    pub raw: String,
    pub https: bool,
    /// Lower-case domain or the address literal (IPv6 without brackets), normalised.
    pub host: String,
    /// The host's address when it is a literal.
    pub ip: Option<IpAddr>,
    pub port: u16,
    pub loopback: bool,
}

/// Characters no accepted URL contains as typed.
fn forbidden(c: char) -> bool {
    c.is_whitespace() || c.is_control() || "\"'<>`\\".contains(c)
}

pub fn parse(raw: &str, rules: UrlRules) -> Result<CheckedUrl, UrlError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > rules.max_len || raw.chars().any(forbidden) {
        return Err(UrlError::Malformed);
    }
    let url = url::Url::parse(raw).map_err(|_| UrlError::Malformed)?;
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(UrlError::Scheme),
    };
    // `url` reads `https:host`, `https:/host` and `https:///host` as `https://host`: only
    // the form with exactly two slashes is an absolute URL as written.
    let after_scheme = &raw[url.scheme().len()..];
    if !after_scheme.starts_with("://") || after_scheme[3..].starts_with('/') {
        return Err(UrlError::Malformed);
    }
    let (host, ip) = match url.host() {
        None => return Err(UrlError::Malformed),
        Some(url::Host::Domain("")) => return Err(UrlError::Malformed),
        Some(url::Host::Domain(d)) => (d.to_ascii_lowercase(), None),
        Some(url::Host::Ipv4(a)) => (a.to_string(), Some(IpAddr::V4(a))),
        Some(url::Host::Ipv6(a)) => (a.to_string(), Some(IpAddr::V6(a))),
    };
    let loopback = match ip {
        Some(ip) => ip.is_loopback(),
        None => host == "localhost",
    };
    let http_ok = match rules.http {
        Http::Never => false,
        Http::Loopback => loopback,
        Http::Anywhere => true,
    };
    if !https && !http_ok {
        return Err(UrlError::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Credentials);
    }
    if url.query().is_some() && !rules.query {
        return Err(UrlError::Query);
    }
    if url.fragment().is_some() && !rules.fragment {
        return Err(UrlError::Fragment);
    }
    let port = url.port_or_known_default().filter(|p| *p != 0).ok_or(UrlError::Malformed)?;
    Ok(CheckedUrl { raw: raw.to_string(), https, host, ip, port, loopback })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: UrlRules = UrlRules { http: Http::Never, query: false, fragment: false, max_len: 100 };

    #[test]
    fn an_https_url_gives_its_lower_case_host_and_default_or_written_port() {
        let u = parse(" HTTPS://Hooks.Example.com/in ", STRICT).unwrap();
        assert_eq!(
            (u.raw.as_str(), u.host.as_str(), u.port, u.https, u.ip),
            ("HTTPS://Hooks.Example.com/in", "hooks.example.com", 443, true, None)
        );
        assert_eq!(parse("https://a.example:8443/", STRICT).unwrap().port, 8443);
        let v6 = parse("https://[2606:4700::1111]/", STRICT).unwrap();
        assert_eq!((v6.host.as_str(), v6.ip), ("2606:4700::1111", Some("2606:4700::1111".parse().unwrap())));
    }

    #[test]
    fn numeric_host_spellings_are_read_as_the_address_a_client_would_connect_to() {
        for (raw, ip) in
            [("https://0x7f.1/", "127.0.0.1"), ("https://2130706433/", "127.0.0.1"), ("https://0251.0376.0251.0376/", "169.254.169.254")]
        {
            let u = parse(raw, STRICT).unwrap();
            assert_eq!(u.ip, Some(ip.parse().unwrap()), "{raw}");
        }
        assert!(parse("https://0x7f.1/", STRICT).unwrap().loopback);
    }

    #[test]
    fn each_part_the_rules_forbid_is_named() {
        assert_eq!(parse("https://u:p@a.example/", STRICT), Err(UrlError::Credentials));
        assert_eq!(parse("https://u@a.example/", STRICT), Err(UrlError::Credentials));
        assert_eq!(parse("https://a.example/?x=1", STRICT), Err(UrlError::Query));
        assert_eq!(parse("https://a.example/#top", STRICT), Err(UrlError::Fragment));
        assert_eq!(parse("ftp://a.example/", STRICT), Err(UrlError::Scheme));
        assert_eq!(parse("javascript:alert(1)", STRICT), Err(UrlError::Scheme));
        assert_eq!(parse("http://a.example/", STRICT), Err(UrlError::Scheme));
        let open = UrlRules { query: true, fragment: true, ..STRICT };
        assert!(parse("https://a.example/?x=1#top", open).is_ok());
    }

    #[test]
    fn http_is_accepted_only_where_the_rules_say() {
        let loopback = UrlRules { http: Http::Loopback, ..STRICT };
        for ok in ["http://127.0.0.1:9001/x", "http://localhost:8123/", "http://[::1]:8123/", "http://127.1.2.3/"] {
            assert!(parse(ok, loopback).unwrap().loopback, "{ok}");
        }
        for bad in ["http://a.example/", "http://127.0.0.1.nip.io/", "http://10.0.0.1/"] {
            assert_eq!(parse(bad, loopback), Err(UrlError::Scheme), "{bad}");
        }
        assert!(parse("http://a.example/", UrlRules { http: Http::Anywhere, ..STRICT }).is_ok());
    }

    #[test]
    fn malformed_text_is_refused_before_the_parser_could_repair_it() {
        for bad in [
            "",
            "   ",
            "a.example",
            "https://",
            "https:///path",
            "https:a.example",
            "https:/a.example",
            "https://a.example/x y",
            "https://a.example/\"x",
            "https://a.example/<x>",
            "https://a.example/\\x",
            "https://a.example:99999/",
            "https://a.example:0/",
            "https://exa mple.com/",
            "data:image/png;base64,AAAA",
        ] {
            assert!(parse(bad, STRICT).is_err(), "{bad:?}");
        }
        assert_eq!(parse(&format!("https://a.example/{}", "x".repeat(100)), STRICT), Err(UrlError::Malformed), "too long");
    }
}

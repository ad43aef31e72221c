//! The database address: parsed once, shown only with its password masked.
//!
//! In: a libpq-style connection string, as a URL (`postgresql://user:secret@host:5432/db`) or as
//! `key=value` pairs (`host=… password=secret`). Out: the client's [`Config`] and a text safe to
//! print, log and put in a summary, in which every password reads `***`.

use std::str::FromStr;

use tokio_postgres::Config;

/// A parsed connection string. `Debug` and `Display` show only the masked form.
#[derive(Clone)]
pub struct DbUrl {
    config: Config,
    masked: String,
}

impl DbUrl {
    /// Parses `text`; the error never repeats the password.
    pub fn parse(text: &str) -> Result<DbUrl, String> {
        let masked = mask(text);
        let config =
            Config::from_str(text).map_err(|e| format!("{masked} is not a PostgreSQL connection string: {e}"))?;
        Ok(DbUrl { config, masked })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn masked(&self) -> &str {
        &self.masked
    }
}

impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked)
    }
}

impl std::fmt::Display for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked)
    }
}

/// `text` with the password of its user-info part (URL form) and every `password` parameter
/// (query or `key=value` form) replaced by `***`.
pub fn mask(text: &str) -> String {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix("postgresql://").or_else(|| t.strip_prefix("postgres://")) {
        let scheme = &t[..t.len() - rest.len()];
        // The authority ends at the first `/` or `?`; its user info at the last `@` before that.
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let authority = match authority.rfind('@') {
            Some(at) => {
                let (userinfo, host) = authority.split_at(at);
                match userinfo.split_once(':') {
                    Some((user, _)) => format!("{user}:***{host}"),
                    None => authority.to_owned(),
                }
            }
            None => authority.to_owned(),
        };
        let tail = match tail.split_once('?') {
            Some((path, query)) => {
                let params: Vec<String> = query
                    .split('&')
                    .map(|kv| match kv.split_once('=') {
                        Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                        _ => kv.to_owned(),
                    })
                    .collect();
                format!("{path}?{}", params.join("&"))
            }
            None => tail.to_owned(),
        };
        return format!("{scheme}{authority}{tail}");
    }
    mask_key_values(t)
}

/// The `key=value` form: values may be single-quoted with `\'` and `\\` escapes.
fn mask_key_values(t: &str) -> String {
    let b = t.as_bytes();
    let mut out = String::with_capacity(t.len());
    let mut i = 0;
    while i < b.len() {
        // Copy whitespace, then read a key up to `=`.
        if b[i].is_ascii_whitespace() {
            out.push(b[i] as char);
            i += 1;
            continue;
        }
        let key_start = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &t[key_start..i];
        out.push_str(key);
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            continue;
        }
        out.push('=');
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let value_start = i;
        if i < b.len() && b[i] == b'\'' {
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = i.min(b.len());
        }
        if key.eq_ignore_ascii_case("password") {
            out.push_str("***");
        } else {
            out.push_str(&t[value_start..i]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        for (url, want) in [
            ("postgresql://synth:s3cr%40t@db.example:5432/synth", "postgresql://synth:***@db.example:5432/synth"),
            ("postgres://u:p@h/d?sslmode=disable&password=x", "postgres://u:***@h/d?sslmode=disable&password=***"),
            ("postgresql://u@h/d", "postgresql://u@h/d"),
            ("postgresql://u:a@b@h/d", "postgresql://u:***@h/d"),
            ("postgresql:///d?host=/tmp/s", "postgresql:///d?host=/tmp/s"),
            ("host=h user=u password=secret dbname=d", "host=h user=u password=*** dbname=d"),
            ("host=h password='it\\'s secret' dbname=d", "host=h password=*** dbname=d"),
            ("password = spaced host=h", "password=*** host=h"),
        ] {
            assert_eq!(mask(url), want, "{url}");
        }
        let e = DbUrl::parse("postgresql://u:hunter2@h:notaport/d").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        let ok = DbUrl::parse("postgresql://u:hunter2@h:5432/d").unwrap();
        assert!(!format!("{ok} {ok:?}").contains("hunter2"));
    }
}

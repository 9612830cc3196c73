//! Database URLs: which backend a URL names, and how to show one without its password.

pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// A database URL with any password removed, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://<redacted>@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_by_scheme_and_passwords_redacted() {
        assert!(is_postgres("postgresql://h/db") && is_postgres("postgres://h/db"));
        assert!(!is_postgres("sqlite://x.db") && is_sqlite("sqlite://x.db"));
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://<redacted>@h/db");
        assert_eq!(redact("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
    }
}

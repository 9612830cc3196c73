//! Which events an endpoint receives: its `events` patterns (`*` matches any run of
//! characters, so `credits.*` is every credit type) and its `sources`. Both default to
//! all. The worker, the backlog count and the tests all ask [`Filter::matches`].

use credit_sync::protocol::{Event, EventType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// `None`: every type.
    events: Option<Vec<String>>,
    /// `None`: every source.
    sources: Option<Vec<String>>,
}

impl Filter {
    /// Checks the patterns: each must match at least one known type (a typo otherwise
    /// silently filters everything out).
    pub fn new(events: Option<&[String]>, sources: Option<&[String]>) -> Result<Filter, String> {
        if let Some(patterns) = events {
            if patterns.is_empty() {
                return Err("events is empty (leave it out to receive every event)".into());
            }
            for pattern in patterns {
                if !EventType::ALL.iter().any(|t| glob(pattern, t.as_str())) {
                    return Err(format!("events entry {pattern:?} matches no event type"));
                }
            }
        }
        if let Some(names) = sources {
            if names.is_empty() || names.iter().any(String::is_empty) {
                return Err("sources must name at least one source, none empty".into());
            }
        }
        Ok(Filter {
            events: events.map(<[String]>::to_vec),
            sources: sources.map(<[String]>::to_vec),
        })
    }

    /// Everything.
    pub fn all() -> Filter {
        Filter {
            events: None,
            sources: None,
        }
    }

    pub fn matches(&self, event: &Event) -> bool {
        self.matches_parts(event.kind.as_str(), event.source.as_deref())
    }

    /// [`Filter::matches`] on an event's type (wire string) and source.
    pub fn matches_parts(&self, kind: &str, source: Option<&str>) -> bool {
        let kind_ok = self
            .events
            .as_ref()
            .is_none_or(|patterns| patterns.iter().any(|p| glob(p, kind)));
        let source_ok = self
            .sources
            .as_ref()
            .is_none_or(|names| source.is_some_and(|source| names.iter().any(|n| n == source)));
        kind_ok && source_ok
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let table = [
            ("credits.*", "credits.added", true),
            ("credits.*", "hold.created", false),
            ("*", "hold.created", true),
            ("hold.captured", "hold.captured", true),
            ("hold.captured", "hold.capturedx", false),
            ("*.created", "hold.created", true),
            ("h*d.*ed", "hold.voided", true),
            ("credits.*d", "credits.added", true),
            ("c*s*s", "credits.added", false),
        ];
        for (pattern, text, expected) in table {
            assert_eq!(glob(pattern, text), expected, "{pattern} {text}");
        }
    }

    #[test]
    fn filters_types_and_sources() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let filter = Filter::new(
            Some(&names(&["credits.*", "hold.captured"])),
            Some(&names(&["media_bot"])),
        )
        .unwrap();
        assert!(filter.matches_parts("credits.added", Some("media_bot")));
        assert!(!filter.matches_parts("credits.added", Some("shop_bot")));
        assert!(!filter.matches_parts("credits.added", None));
        assert!(!filter.matches_parts("hold.created", Some("media_bot")));
        assert!(Filter::all().matches_parts("user.registered", None));
        assert!(Filter::new(Some(&names(&["credit.*"])), None).is_err());
        assert!(Filter::new(Some(&[]), None).is_err());
    }
}

//! Kubernetes' name rules, checked before a name goes into a request path: a name that cannot
//! exist is a usage error (exit 2) that says what a valid one looks like, not a 404 or a 422.

use crate::error::{Exit, Fail};

/// An object name (InferenceServices and the like): a DNS-1123 subdomain.
pub fn check_name(name: &str) -> Result<(), Fail> {
    let valid = !name.is_empty() && name.len() <= 253 && name.split('.').all(is_dns1123_label);
    if valid {
        return Ok(());
    }
    Err(Fail::new(
        Exit::Usage,
        format!(
            "invalid name '{}': a valid name (DNS-1123) is lowercase letters, digits, '-' and '.', starts and ends with a letter or digit, at most 253 characters",
            crate::output::sanitize(name)
        ),
    ))
}

/// A namespace: a DNS-1123 label.
pub fn check_namespace(namespace: &str) -> Result<(), Fail> {
    if namespace.len() <= 63 && is_dns1123_label(namespace) {
        return Ok(());
    }
    Err(Fail::new(
        Exit::Usage,
        format!(
            "invalid namespace '{}': a valid namespace (DNS-1123 label) is lowercase letters, digits and '-', starts and ends with a letter or digit, at most 63 characters",
            crate::output::sanitize(namespace)
        ),
    ))
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty() && b.len() <= 63 && alnum(&b[0]) && alnum(&b[b.len() - 1]) && b.iter().all(|c| alnum(c) || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dns1123_subdomain() {
        let longest = format!("{0}.{0}.{0}.{1}", "a".repeat(63), "b".repeat(61));
        assert_eq!(longest.len(), 253);
        for ok in ["sklearn-iris", "a", "m.v2", "0abc", &longest] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in
            ["", "A", "has space", "..", "%2e%2e", "a/b", "-a", "a-", "a..b", &"a".repeat(64), &format!("{longest}b")]
        {
            let err = check_name(bad).unwrap_err();
            assert_eq!(err.exit, Exit::Usage, "{bad}");
            assert!(err.message.contains("DNS-1123"), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn namespaces_follow_dns1123_label() {
        assert!(check_namespace("kserve-test").is_ok());
        for bad in ["", "Kserve", "a.b", "a_b", &"a".repeat(64), "\u{1b}[2J"] {
            assert!(check_namespace(bad).is_err(), "{bad}");
        }
        assert!(!check_namespace("\u{1b}[2J").unwrap_err().message.contains('\u{1b}'));
    }
}

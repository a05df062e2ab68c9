//! kubectl's duration syntax (`0`, `30s`, `1m`, `1h30m`, `250ms`; a bare number is seconds) and
//! kubectl's human ages (`5s`, `3m20s`, `2d3h`).

use std::time::Duration;

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration (use e.g. 30s, 5m, 1h)".into());
    }
    if t.chars().all(|c| c.is_ascii_digit()) {
        return t.parse::<u64>().map(Duration::from_secs).map_err(|e| e.to_string());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("invalid duration '{text}' (use e.g. 30s, 5m, 1h)"));
        }
        let number: f64 = rest[..digits].parse().map_err(|_| format!("invalid duration '{text}'"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ms" => number / 1000.0,
            "s" => number,
            "m" => number * 60.0,
            "h" => number * 3600.0,
            "" => return Err(format!("invalid duration '{text}': missing unit (s, m, h)")),
            u => return Err(format!("invalid duration '{text}': unknown unit '{u}'")),
        };
        total = Duration::try_from_secs_f64(seconds)
            .ok()
            .and_then(|d| total.checked_add(d))
            .ok_or(format!("invalid duration '{text}': too long"))?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// `1m30s`-style text for a duration (used in messages).
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// kubectl's `HumanDuration` (the AGE column), for ages the plugin computes itself.
pub fn human_age(d: Duration) -> String {
    let s = d.as_secs();
    let (m, h) = (s / 60, s / 3600);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        let rem = s % 60;
        if rem == 0 { format!("{m}m") } else { format!("{m}m{rem}s") }
    } else if m < 3 * 60 {
        format!("{m}m")
    } else if h < 8 {
        let rem = m % 60;
        if rem == 0 { format!("{h}h") } else { format!("{h}h{rem}m") }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        let rem = h % 24;
        if rem == 0 { format!("{}d", h / 24) } else { format!("{}d{rem}h", h / 24) }
    } else if h < 24 * 365 * 2 {
        format!("{}d", h / 24)
    } else if h < 24 * 365 * 8 {
        let days = h / 24 % 365;
        if days == 0 { format!("{}y", h / 24 / 365) } else { format!("{}y{days}d", h / 24 / 365) }
    } else {
        format!("{}y", h / 24 / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kubectl_durations() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(human_age(Duration::from_secs(5)), "5s");
        assert_eq!(human_age(Duration::from_secs(119)), "119s");
        assert_eq!(human_age(Duration::from_secs(200)), "3m20s");
        assert_eq!(human_age(Duration::from_secs(600)), "10m");
        assert_eq!(human_age(Duration::from_secs(3 * 3600 + 60 * 5)), "3h5m");
        assert_eq!(human_age(Duration::from_secs(50 * 3600)), "2d2h");
    }

    #[test]
    fn formats_durations() {
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(900)), "15m");
    }
}

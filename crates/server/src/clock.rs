//! The server's clock, in the two forms it is read in: a leaf module, so the stores, the
//! limits and the routes read the time without depending on each other.

/// Now, in unix seconds.
pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Now, as RFC 3339 in UTC.
pub fn now_rfc3339() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

/// `days` days before now, to the second, as RFC 3339 in UTC (comparable as text with the
/// times the stores keep). Further back than 1970 (an operator's "keep forever"), it is 1970:
/// no time the stores keep is older (`-` would panic past the calendar's range).
pub fn days_ago_rfc3339(days: u32) -> String {
    let then = time::OffsetDateTime::now_utc()
        .checked_sub(time::Duration::days(i64::from(days)))
        .filter(|then| *then >= time::OffsetDateTime::UNIX_EPOCH)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    rfc3339(then.replace_nanosecond(0).unwrap_or(then))
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn any_number_of_days_ago_is_a_time() {
        assert_eq!(super::days_ago_rfc3339(u32::MAX), "1970-01-01T00:00:00Z");
        assert_eq!(super::days_ago_rfc3339(5_000_000), "1970-01-01T00:00:00Z");
        assert!(super::days_ago_rfc3339(0).as_str() > "2026");
    }
}

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
/// times the stores keep).
pub fn days_ago_rfc3339(days: u32) -> String {
    let then = time::OffsetDateTime::now_utc() - time::Duration::days(i64::from(days));
    rfc3339(then.replace_nanosecond(0).unwrap_or(then))
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

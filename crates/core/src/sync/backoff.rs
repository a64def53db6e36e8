//! Retry delays: exponential backoff with full jitter, from an injected random source.
//!
//! Full jitter (a uniform delay between zero and the exponential ceiling) spreads the retries
//! of many devices that failed together, so a recovering server is not hit by a wave. The
//! random number comes in through [`Entropy`] so tests are deterministic and the crate needs
//! no `rand`.

use super::Millis;

/// A source of random numbers, supplied by the caller on every input.
pub trait Entropy {
    /// The next uniformly distributed 64-bit number.
    fn next_u64(&mut self) -> u64;
}

impl<F: FnMut() -> u64> Entropy for F {
    fn next_u64(&mut self) -> u64 {
        self()
    }
}

/// SplitMix64: a tiny, fast, well-mixed generator, enough for jitter and request ids. The
/// shell seeds it once from `crypto.getRandomValues` (it is not for secrets).
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl Entropy for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The largest delay allowed before retry number `attempt` (0-based): `base * 2^attempt`,
/// capped at `cap`.
pub fn ceiling(base: Millis, cap: Millis, attempt: u32) -> Millis {
    let factor = 1u64.checked_shl(attempt.min(63)).unwrap_or(u64::MAX);
    base.saturating_mul(factor).min(cap)
}

/// The delay before retry number `attempt`: uniform in `0..=ceiling` (full jitter), but never
/// shorter than a server's `Retry-After`, which is a promise the server asked us to keep.
pub fn delay(
    base: Millis,
    cap: Millis,
    attempt: u32,
    retry_after: Option<Millis>,
    random: u64,
) -> Millis {
    let ceiling = ceiling(base, cap, attempt);
    let jittered = random % ceiling.saturating_add(1);
    jittered.max(retry_after.unwrap_or(0))
}

/// The event stream's first reconnect wait, and where it starts again after a connection that
/// was established.
pub const STREAM_FIRST_WAIT: Millis = 1_000;
/// The event stream's longest reconnect wait after a server that answered with an error.
pub const STREAM_MAX_WAIT: Millis = 60_000;
/// The event stream's longest reconnect wait while nothing answers at all (the server is down,
/// restarting, or unreachable with the network up): short, because its coming back is what a
/// waiting change waits for (`Input::TryNow` on connecting), and a failed connection attempt
/// costs next to nothing. One second: P12 (server back -> change on the server, p95 <= 2 s)
/// is this wait plus the reconnect and the write; with two seconds it was missed whenever the
/// server came back just after an attempt (Firefox after a minute: 1.9-2.2 s).
pub const STREAM_UNANSWERED_MAX_WAIT: Millis = 1_000;

/// How the event stream's last connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// It had been established (and then closed or broke).
    Opened,
    /// Nothing answered: a network error, a refused connection.
    NoAnswer,
    /// The server answered with an error, with its `Retry-After` if it sent one.
    Refused(Option<Millis>),
}

/// How long the event stream waits before connecting again, and the wait after that.
/// `previous` is the wait planned last time; `online` whether the browser has a network (while
/// it has none the stream waits for the `online` event, which cuts any wait short). A server's
/// `Retry-After` is kept even beyond the usual cap: a refused stream is no emergency, the sync
/// loop's other triggers still run, so it waits as asked and says nothing.
pub fn stream_wait(previous: Millis, end: StreamEnd, online: bool) -> (Millis, Millis) {
    if !online {
        return (STREAM_MAX_WAIT, STREAM_FIRST_WAIT);
    }
    match end {
        StreamEnd::Opened => (STREAM_FIRST_WAIT, STREAM_FIRST_WAIT * 2),
        StreamEnd::NoAnswer => {
            let wait = previous.clamp(STREAM_FIRST_WAIT, STREAM_UNANSWERED_MAX_WAIT);
            (wait, (wait * 2).min(STREAM_UNANSWERED_MAX_WAIT))
        }
        StreamEnd::Refused(retry_after) => {
            let wait = previous
                .max(STREAM_FIRST_WAIT)
                .max(retry_after.unwrap_or(0));
            (wait, wait.saturating_mul(2).min(STREAM_MAX_WAIT.max(wait)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_waits_double_to_a_minute_after_errors_and_keep_the_servers_retry_after() {
        let refused = StreamEnd::Refused(None);
        assert_eq!(stream_wait(1_000, refused, true), (1_000, 2_000));
        assert_eq!(stream_wait(2_000, refused, true), (2_000, 4_000));
        assert_eq!(stream_wait(60_000, refused, true), (60_000, 60_000));
        assert_eq!(
            stream_wait(32_000, StreamEnd::Opened, true),
            (1_000, 2_000),
            "a good connection resets"
        );
        assert_eq!(
            stream_wait(1_000, StreamEnd::Refused(Some(30_000)), true),
            (30_000, 60_000)
        );
        assert_eq!(
            stream_wait(1_000, StreamEnd::Refused(Some(120_000)), true),
            (120_000, 120_000),
            "a longer Retry-After is kept, not cut to the cap"
        );
    }

    #[test]
    fn while_nothing_answers_the_stream_tries_every_second_and_offline_not_at_all() {
        assert_eq!(
            stream_wait(1_000, StreamEnd::NoAnswer, true),
            (1_000, 1_000)
        );
        assert_eq!(
            stream_wait(2_000, StreamEnd::NoAnswer, true),
            (1_000, 1_000)
        );
        assert_eq!(
            stream_wait(60_000, StreamEnd::NoAnswer, true),
            (1_000, 1_000),
            "a wait grown on errors shrinks once nothing answers (the server went down)"
        );
        assert_eq!(
            stream_wait(2_000, StreamEnd::NoAnswer, false),
            (60_000, 1_000),
            "offline: wait for the network (the online event ends the wait), then start over"
        );
    }

    #[test]
    fn ceiling_doubles_to_the_cap() {
        assert_eq!(ceiling(1000, 300_000, 0), 1000);
        assert_eq!(ceiling(1000, 300_000, 1), 2000);
        assert_eq!(ceiling(1000, 300_000, 8), 256_000);
        assert_eq!(ceiling(1000, 300_000, 9), 300_000);
        assert_eq!(ceiling(1000, 300_000, 500), 300_000);
    }

    #[test]
    fn delay_is_full_jitter_within_ceiling() {
        assert_eq!(delay(1000, 300_000, 2, None, 0), 0);
        assert_eq!(delay(1000, 300_000, 2, None, 4000), 4000);
        assert_eq!(delay(1000, 300_000, 2, None, 4001), 0);
        assert_eq!(delay(1000, 300_000, 2, None, u64::MAX), u64::MAX % 4001);
        let mut rng = SplitMix64(7);
        for attempt in 0..20 {
            let d = delay(1000, 300_000, attempt, None, rng.next_u64());
            assert!(d <= ceiling(1000, 300_000, attempt));
        }
    }

    #[test]
    fn retry_after_is_a_floor() {
        assert_eq!(delay(1000, 300_000, 0, Some(30_000), 5), 30_000);
        assert_eq!(delay(1000, 300_000, 9, Some(1), 200_000), 200_000);
    }

    #[test]
    fn closures_are_entropy() {
        let mut n = 0;
        let mut e = || {
            n += 1;
            n
        };
        assert_eq!(Entropy::next_u64(&mut e), 1);
        assert_eq!(Entropy::next_u64(&mut e), 2);
    }
}

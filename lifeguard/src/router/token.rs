//! WAL positions and the read-your-writes token built on them.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A position in the write-ahead log (a `pg_lsn`), shown and parsed as PostgreSQL does:
/// `16/B374D848`. Ordered: a later position is greater.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl FromStr for Lsn {
    type Err = Error;

    /// Parses `hi/lo` (each at most eight hex digits), as `pg_lsn` prints it.
    fn from_str(s: &str) -> Result<Lsn> {
        let bad = || {
            Error::usage(format!(
                "invalid WAL position {s:?} (expected e.g. 16/B374D848)"
            ))
        };
        let (hi, lo) = s.trim().split_once('/').ok_or_else(bad)?;
        let part = |p: &str| {
            if p.is_empty() || p.len() > 8 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            u32::from_str_radix(p, 16).map_err(|_| bad())
        };
        Ok(Lsn((u64::from(part(hi)?) << 32) | u64::from(part(lo)?)))
    }
}

/// What a session (or a request) knows it has written: the primary's WAL insert position
/// after its last write committed. A [`ReadPreference::Strong`](crate::ReadPreference) read
/// with this token runs on a replica only once that replica has replayed up to it, so the
/// writer always sees its own writes.
///
/// A token belongs to one session or request, never to the whole process: keep it next to
/// the user's session and pass it on (it is `Display` + `FromStr`, e.g. in an HTTP header).
/// A session that wrote several times keeps the latest token ([`CausalToken::merge`]).
///
/// ```
/// use lifeguard::CausalToken;
///
/// let token: CausalToken = "16/B374D848".parse()?;
/// assert_eq!(token.to_string(), "16/B374D848");
/// # Ok::<(), lifeguard::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CausalToken(Lsn);

impl CausalToken {
    /// A token for a WAL position (e.g. a commit's LSN the application obtained itself).
    pub fn from_lsn(lsn: Lsn) -> CausalToken {
        CausalToken(lsn)
    }

    /// The WAL position a replica must have replayed to serve this token's reads.
    pub fn lsn(&self) -> Lsn {
        self.0
    }

    /// The later of two tokens: what a session holds after writing twice.
    #[must_use]
    pub fn merge(self, other: CausalToken) -> CausalToken {
        self.max(other)
    }
}

impl fmt::Display for CausalToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for CausalToken {
    type Err = Error;

    fn from_str(s: &str) -> Result<CausalToken> {
        s.parse().map(CausalToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_text_round_trips() {
        for v in [0u64, 1, 0x16_B374_D848, u64::MAX, 0xFFFF_FFFF, 1 << 32] {
            let lsn = Lsn(v);
            assert_eq!(lsn.to_string().parse::<Lsn>().unwrap(), lsn);
        }
        assert_eq!(Lsn(0x16_B374_D848).to_string(), "16/B374D848");
        assert_eq!("0/0".parse::<Lsn>().unwrap(), Lsn(0));
        for bad in [
            "",
            "16",
            "/1",
            "1/",
            "g/1",
            "1/2/3",
            "123456789/0",
            "-1/0",
            "1/ 2",
        ] {
            let e = bad.parse::<Lsn>().unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Usage, "{bad}");
        }
    }

    #[test]
    fn tokens_merge_to_the_later() {
        let a = CausalToken::from_lsn(Lsn(10));
        let b = CausalToken::from_lsn(Lsn(20));
        assert_eq!(a.merge(b), b);
        assert_eq!(b.merge(a), b);
    }
}

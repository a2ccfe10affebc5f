//! The Lua scripts that make every cache write a compare-and-set. A key is a hash:
//! `k` (its kind: `r` a row, `l` a reader's lease, `t` a tombstone), `v` (the row's version,
//! or the lease's token), `f` (the columns' fingerprint) and `d` (the row's bytes).
//!
//! Why leases: a reader that misses and reads the database may lose the race to a writer
//! whose change the reflector has already handled (the key was not cached, so it was
//! ignored); a plain fill would then put the old row back until the TTL. The reader first
//! leases the key (the key now exists, so the reflector refreshes it), and its fill only
//! lands if its lease is still there (a model write deletes the key after commit, which
//! also voids the lease) or the cached row is older.

/// A script with its SHA-1, so calls send `EVALSHA` and the source only on `NOSCRIPT`.
pub(crate) struct Lua {
    pub(crate) src: &'static str,
    pub(crate) sha: String,
}

impl Lua {
    fn new(src: &'static str) -> Lua {
        Lua {
            src,
            sha: redis::Script::new(src).get_hash().to_owned(),
        }
    }
}

/// `KEYS[1]` row key; `ARGV` token, lease ms. 1 = leased, 0 = the key exists.
const LEASE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'k', 'l', 'v', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
";

/// `KEYS[1]` row key; `ARGV` token, version, fingerprint, bytes, ttl ms.
/// 1 = filled; 0 = refused (lease gone or taken, tombstone, or a row as new or newer).
const FILL: &str = r"
local c = redis.call('HMGET', KEYS[1], 'k', 'v')
if c[1] == 'l' then
  if c[2] ~= ARGV[1] then return 0 end
elseif c[1] == 'r' then
  if tonumber(c[2]) >= tonumber(ARGV[2]) then return 0 end
else
  return 0
end
redis.call('HSET', KEYS[1], 'k', 'r', 'v', ARGV[2], 'f', ARGV[3], 'd', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
";

/// The reflector's write. `KEYS[1]` row key, `KEYS[2]` epoch key; `ARGV` epoch, version,
/// fingerprint, bytes, row ttl ms, tombstone ttl ms, `1` for a tombstone.
/// -1 = fenced (a newer leader), 0 = not cached (ignored), 1 = written, 2 = unchanged.
/// A row written over a row keeps the key's remaining TTL.
const REFRESH: &str = r"
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
local c = redis.call('HMGET', KEYS[1], 'k', 'v', 'f')
if not c[1] then return 0 end
local tomb = ARGV[7] == '1'
if c[1] ~= 'l' then
  local cur, new = tonumber(c[2]), tonumber(ARGV[2])
  if cur > new then return 2 end
  if cur == new and (tomb or c[1] == 't' or c[3] == ARGV[3]) then return 2 end
end
if tomb then
  redis.call('HDEL', KEYS[1], 'f', 'd')
  redis.call('HSET', KEYS[1], 'k', 't', 'v', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
else
  redis.call('HSET', KEYS[1], 'k', 'r', 'v', ARGV[2], 'f', ARGV[3], 'd', ARGV[4])
  if c[1] ~= 'r' then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
end
return 1
";

pub(crate) struct Scripts {
    pub(crate) lease: Lua,
    pub(crate) fill: Lua,
    pub(crate) refresh: Lua,
}

impl Scripts {
    pub(crate) fn new() -> Scripts {
        Scripts {
            lease: Lua::new(LEASE),
            fill: Lua::new(FILL),
            refresh: Lua::new(REFRESH),
        }
    }
}

/// A write command of the string data type, as carried inside a `KVRequest`.
///
/// Every case follows the Redis command of the same meaning; see `KVStateMachine` for the
/// exact replies.
public enum KVCommand: Sendable, Equatable {
    /// SET with its NX / XX / IFEQ condition, EX / PX / EXAT / PXAT / KEEPTTL expiry and GET.
    case set(key: [UInt8], value: [UInt8], condition: SetCondition, expiry: Expiry, returnOld: Bool)
    /// DEL: replies with the number of keys that existed.
    case delete(keys: [[UInt8]])
    /// INCR / INCRBY / DECR / DECRBY: replies with the new value.
    case incrementBy(key: [UInt8], delta: Int64)
    /// APPEND: creates a missing key; replies with the new length.
    case append(key: [UInt8], value: [UInt8])
    /// GETDEL: replies with the old value (or null) and deletes the key.
    case getDelete(key: [UInt8])
    /// GETSET: replies with the old value (or null); clears the TTL.
    case getSet(key: [UInt8], value: [UInt8])
    /// MSET of keys that all belong to one shard; always replies OK.
    case multiSet(pairs: [([UInt8], [UInt8])])
    /// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT: sets the live key's expiry to `millis` after the
    /// entry's timestamp (`absolute` false) or at that Unix time in ms, under `condition`;
    /// replies 1 when set (a time already past deletes the key), 0 when the key is missing or
    /// the condition fails.
    case expire(key: [UInt8], millis: Int64, absolute: Bool, condition: ExpireCondition)
    /// PERSIST: removes the live key's expiry; replies 1 when it had one, else 0.
    case persist(key: [UInt8])
    /// GETEX: replies with the live key's value (or null) and changes its expiry: nil keeps it,
    /// `.none` removes it (PERSIST), `.afterMillis` / `.atMillis` set it (a time already past
    /// deletes the key after reading it).
    case getExpire(key: [UInt8], expiry: Expiry?)
    /// MSETNX of keys that all belong to one shard: sets them all only when none exists;
    /// replies 1 when set, else 0.
    case multiSetIfAbsent(pairs: [([UInt8], [UInt8])])
    /// FLUSHALL / FLUSHDB on one shard: removes every key with its history; client sessions
    /// stay (exactly-once retries keep working). Replies OK.
    case flush
    /// SETRANGE: overwrites the value from `offset` (padding a shorter or missing value with
    /// zero bytes), keeping the TTL; replies with the new length. An empty `value` changes
    /// nothing (a missing key stays missing) and replies the current length.
    case setRange(key: [UInt8], offset: Int64, value: [UInt8])
    /// INCRBYFLOAT: adds the decimal `delta` (as Redis, in long double) to the value, a missing
    /// key counting as 0, keeping the TTL; replies with the new value's text.
    case incrementByFloat(key: [UInt8], delta: [UInt8])
    /// RENAME / RENAMENX: moves the value and its expiry from `from` to `to` (replacing it, or
    /// only when `to` is missing); RENAME replies OK, RENAMENX 1 or 0; a missing `from` is
    /// an error.
    case rename(from: [UInt8], to: [UInt8], onlyIfAbsent: Bool)
    /// COPY: copies the value and its expiry to `to` when it is missing (or always, with
    /// `replace`); replies 1 when copied, else 0.
    case copy(from: [UInt8], to: [UInt8], replace: Bool)
    /// SETBIT: sets bit `offset` (bit 0 is the high bit of the first byte) to `bit`, padding
    /// with zero bytes, keeping the TTL; replies with the bit's old value.
    case setBit(key: [UInt8], offset: UInt64, bit: Bool)
    /// A read inside a transaction: replies as `KVStateMachine.evaluate(_:)` does.
    case read(KVRead)
    /// MULTI/EXEC: when every watched key still has its fingerprint, runs `steps` in order
    /// within this one entry and replies with their results as an array (a step's error does
    /// not stop the others, as in Redis); otherwise runs nothing and replies null. Steps are
    /// never transactions themselves.
    case transaction(watches: [WatchedKey], steps: [KVCommand])
    /// Does nothing; replies OK.
    case noop

    public static func == (lhs: KVCommand, rhs: KVCommand) -> Bool {
        switch (lhs, rhs) {
        case let (.set(k1, v1, c1, e1, r1), .set(k2, v2, c2, e2, r2)):
            return k1 == k2 && v1 == v2 && c1 == c2 && e1 == e2 && r1 == r2
        case let (.delete(a), .delete(b)): return a == b
        case let (.incrementBy(k1, d1), .incrementBy(k2, d2)): return k1 == k2 && d1 == d2
        case let (.append(k1, v1), .append(k2, v2)): return k1 == k2 && v1 == v2
        case let (.getDelete(a), .getDelete(b)): return a == b
        case let (.getSet(k1, v1), .getSet(k2, v2)): return k1 == k2 && v1 == v2
        case let (.multiSet(a), .multiSet(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.expire(k1, m1, a1, c1), .expire(k2, m2, a2, c2)): return k1 == k2 && m1 == m2 && a1 == a2 && c1 == c2
        case let (.persist(a), .persist(b)): return a == b
        case let (.getExpire(k1, e1), .getExpire(k2, e2)): return k1 == k2 && e1 == e2
        case let (.multiSetIfAbsent(a), .multiSetIfAbsent(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.setRange(k1, o1, v1), .setRange(k2, o2, v2)): return k1 == k2 && o1 == o2 && v1 == v2
        case let (.incrementByFloat(k1, d1), .incrementByFloat(k2, d2)): return k1 == k2 && d1 == d2
        case let (.rename(f1, t1, n1), .rename(f2, t2, n2)): return f1 == f2 && t1 == t2 && n1 == n2
        case let (.copy(f1, t1, r1), .copy(f2, t2, r2)): return f1 == f2 && t1 == t2 && r1 == r2
        case let (.setBit(k1, o1, b1), .setBit(k2, o2, b2)): return k1 == k2 && o1 == o2 && b1 == b2
        case let (.read(a), .read(b)): return a == b
        case let (.transaction(w1, s1), .transaction(w2, s2)): return w1 == w2 && s1 == s2
        case (.noop, .noop), (.flush, .flush): return true
        default: return false
        }
    }
}

/// When an EXPIRE takes effect (Redis 7's options).
public enum ExpireCondition: UInt8, Sendable, Equatable {
    /// Always.
    case always = 0
    /// NX: only when the key has no expiry.
    case ifNone
    /// XX: only when the key has an expiry.
    case ifAny
    /// GT: only when the new expiry is later than the current one (no expiry counts as never).
    case ifLater
    /// LT: only when the new expiry is sooner than the current one (no expiry counts as never).
    case ifSooner
}

/// When a SET takes effect.
public enum SetCondition: Sendable, Equatable {
    /// Unconditionally.
    case always
    /// NX: only if the key does not exist.
    case ifAbsent
    /// XX: only if the key exists.
    case ifPresent
    /// IFEQ (Valkey 8.1): only if the key exists and its value equals this one.
    case ifEqual([UInt8])
}

/// The expiry a SET gives its key. Relative expiries count from the entry's timestamp.
public enum Expiry: Sendable, Equatable {
    /// No expiry; clears an existing TTL, as a plain Redis SET does.
    case none
    /// KEEPTTL: keeps the key's current expiry.
    case keep
    /// EX / PX: this many milliseconds after the entry's timestamp.
    case afterMillis(UInt64)
    /// EXAT / PXAT: at this Unix time in milliseconds.
    case atMillis(UInt64)
}

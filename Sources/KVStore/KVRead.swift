import MultiRaft

/// A read command of the string data type, as a value: served by `KVStateMachine.evaluate(_:)`
/// (a linearizable read outside a transaction) or carried inside a transaction's log entry
/// (`KVCommand.read`), so a MULTI block's reads see the same state as its writes.
public enum KVRead: Sendable, Equatable {
    /// GET: the live value or null.
    case get(key: [UInt8])
    /// STRLEN: the value's length, 0 when missing.
    case length(key: [UInt8])
    /// PTTL: milliseconds left, -1 without expiry, -2 when missing.
    case timeToLive(key: [UInt8])
    /// PEXPIRETIME: the expiry as Unix milliseconds, -1 without expiry, -2 when missing.
    case expiryTime(key: [UInt8])
    /// EXISTS / TOUCH: how many of the keys are live (a key named twice counts twice).
    case count(keys: [[UInt8]])
    /// MGET: each key's live value or null.
    case getMany(keys: [[UInt8]])
    /// GETRANGE: the bytes from `start` to `end`, both inclusive, negative counting from the end.
    case range(key: [UInt8], start: Int64, end: Int64)
    /// MYSTORE.HISTORY: up to `limit` versions, newest first, each `[index, value or null]`.
    case history(key: [UInt8], limit: Int)
    /// WATCH: each key's `KeyFingerprint`, encoded, for a later transaction to compare.
    case fingerprints(keys: [[UInt8]])
    /// GETBIT: bit `offset` of the value (bit 0 is the high bit of the first byte), 0 past its end.
    case bit(key: [UInt8], offset: UInt64)
}

/// What a WATCH remembers of a key: whether it is live and, if so, which write gave it its
/// value (the log index, when history is kept), its expiry and a digest of its value. A later
/// transaction runs only if every watched key still has the same fingerprint, checked inside
/// the transaction's own log entry. Any write, delete, expiry change or expiry of a live key
/// changes it; a missing key stays "missing" whatever happens in between (as Redis does not
/// fail an EXEC for a FLUSHALL or a stale key that did not exist at WATCH).
public struct KeyFingerprint: Sendable, Hashable {
    public var live: Bool
    public var version: UInt64
    public var expiresAt: UInt64
    public var digest: UInt64

    public static let missing = KeyFingerprint(live: false, version: 0, expiresAt: 0, digest: 0)

    public init(live: Bool, version: UInt64, expiresAt: UInt64, digest: UInt64) {
        self.live = live
        self.version = version
        self.expiresAt = expiresAt
        self.digest = digest
    }

    static let encodedCount = 25

    /// 25 bytes: live flag, then version, expiry and digest (u64 little-endian each).
    public var encoded: [UInt8] {
        var w = BinaryWriter(capacity: Self.encodedCount)
        encode(into: &w)
        return w.bytes
    }

    func encode(into w: inout BinaryWriter) {
        w.write(live)
        w.write(version)
        w.write(expiresAt)
        w.write(digest)
    }

    static func decode(from r: inout BinaryReader) throws(DecodeError) -> KeyFingerprint {
        let flag = try r.readUInt8()
        guard flag <= 1 else { throw DecodeError("key fingerprint flag is \(flag), expected 0 or 1") }
        let f = KeyFingerprint(live: flag == 1, version: try r.readUInt64(), expiresAt: try r.readUInt64(), digest: try r.readUInt64())
        guard f.live || f == .missing else { throw DecodeError("a missing key's fingerprint has fields set") }
        return f
    }

    /// Parses `encoded`; nil for anything else.
    public init?(encoded bytes: [UInt8]) {
        guard bytes.count == Self.encodedCount else { return nil }
        var r = BinaryReader(bytes)
        guard let f = try? Self.decode(from: &r) else { return nil }
        self = f
    }

    /// FNV-1a, 64 bits: the same on every replica and every run (unlike `Hasher`).
    static func digest(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }
}

/// A watched key and its fingerprint at WATCH time.
public struct WatchedKey: Sendable, Hashable {
    public var key: [UInt8]
    public var fingerprint: KeyFingerprint

    public init(key: [UInt8], fingerprint: KeyFingerprint) {
        self.key = key
        self.fingerprint = fingerprint
    }
}

extension KVStateMachine {
    /// The result of a read, as of the last applied entry. Never changes state.
    public func evaluate(_ read: KVRead) -> KVResult {
        switch read {
        case .get(let key):
            return get(key).map(KVResult.bulk) ?? .null
        case .length(let key):
            return .integer(Int64(get(key)?.count ?? 0))
        case .timeToLive(let key):
            return .integer(ttlMillis(key))
        case .expiryTime(let key):
            return .integer(expiryMillis(key) ?? -2)
        case .count(let keys):
            return .integer(Int64(keys.reduce(0) { $0 + (exists($1) ? 1 : 0) }))
        case .getMany(let keys):
            return .array(keys.map { get($0).map(KVResult.bulk) ?? .null })
        case let .range(key, start, end):
            return .bulk(Array(Self.range(of: get(key) ?? [], start, end)))
        case let .history(key, limit):
            return .array(history(key, limit: limit).map { .array([.integer(Int64($0.index.rawValue)), $0.value.map(KVResult.bulk) ?? .null]) })
        case .fingerprints(let keys):
            return .array(keys.map { .bulk(fingerprint($0).encoded) })
        case let .bit(key, offset):
            guard let value = get(key), offset >> 3 < UInt64(value.count) else { return .integer(0) }
            return .integer(value[Int(offset >> 3)] & (UInt8(0x80) >> UInt8(offset & 7)) != 0 ? 1 : 0)
        }
    }

    /// A read-only transaction: null when a watched key changed, else each read's result, all
    /// from the same state.
    public func evaluate(watching watches: [WatchedKey], _ reads: [KVRead]) -> KVResult {
        guard watchesHold(watches) else { return .null }
        return .array(reads.map(evaluate))
    }

    func watchesHold(_ watches: [WatchedKey]) -> Bool {
        watches.allSatisfy { fingerprint($0.key) == $0.fingerprint }
    }

    /// The key's fingerprint at the replicated clock (an expired key is missing).
    public func fingerprint(_ key: [UInt8]) -> KeyFingerprint {
        guard let record = records[StoreKey(key)], record.isLive(at: clockMillis), let value = record.value else { return .missing }
        return KeyFingerprint(live: true, version: record.history.last?.index.rawValue ?? 0, expiresAt: record.expiresAt ?? 0,
                              digest: KeyFingerprint.digest(value))
    }

    /// GETRANGE's bytes of `value` from `start` to `end`, both inclusive, negative counting from
    /// the end, as Redis clamps them.
    public static func range(of value: [UInt8], _ start: Int64, _ end: Int64) -> ArraySlice<UInt8> {
        let n = Int64(value.count)
        if start < 0 && end < 0 && start > end { return [] }
        var s = start < 0 ? n &+ start : start, e = end < 0 ? n &+ end : end
        s = max(s, 0)
        e = max(e, 0)
        if e >= n { e = n - 1 }
        guard n > 0, s <= e else { return [] }
        return value[Int(s)...Int(e)]
    }
}

extension KVRead {
    private enum Tag: UInt8 {
        case get = 0, length, timeToLive, expiryTime, count, getMany, range, history, fingerprints, bit
    }

    var payloadSize: Int {
        switch self {
        case .get(let k), .length(let k), .timeToLive(let k), .expiryTime(let k), .range(let k, _, _), .history(let k, _), .bit(let k, _): k.count + 16
        case .count(let keys), .getMany(let keys), .fingerprints(let keys): keys.reduce(4) { $0 + $1.count + 4 }
        }
    }

    func encode(into w: inout BinaryWriter) {
        func keys(_ tag: Tag, _ keys: [[UInt8]]) {
            w.write(tag.rawValue)
            w.write(UInt32(keys.count))
            for k in keys { w.writeBlob(k) }
        }
        switch self {
        case .get(let k): w.write(Tag.get.rawValue); w.writeBlob(k)
        case .length(let k): w.write(Tag.length.rawValue); w.writeBlob(k)
        case .timeToLive(let k): w.write(Tag.timeToLive.rawValue); w.writeBlob(k)
        case .expiryTime(let k): w.write(Tag.expiryTime.rawValue); w.writeBlob(k)
        case .count(let k): keys(.count, k)
        case .getMany(let k): keys(.getMany, k)
        case .fingerprints(let k): keys(.fingerprints, k)
        case let .range(k, start, end):
            w.write(Tag.range.rawValue)
            w.writeBlob(k)
            w.write(UInt64(bitPattern: start))
            w.write(UInt64(bitPattern: end))
        case let .history(k, limit):
            w.write(Tag.history.rawValue)
            w.writeBlob(k)
            w.write(UInt64(limit))
        case let .bit(k, offset):
            w.write(Tag.bit.rawValue)
            w.writeBlob(k)
            w.write(offset)
        }
    }

    static func decode(from r: inout BinaryReader) throws(DecodeError) -> KVRead {
        let raw = try r.readUInt8()
        guard let tag = Tag(rawValue: raw) else { throw DecodeError("unknown read tag \(raw)") }
        func keys() throws(DecodeError) -> [[UInt8]] {
            let n = Int(try r.readUInt32())
            guard n * 4 <= r.remaining else { throw DecodeError("\(n) read keys exceed the input") }
            var keys: [[UInt8]] = []
            keys.reserveCapacity(n)
            for _ in 0..<n { keys.append(try r.readBlob()) }
            return keys
        }
        switch tag {
        case .get: return .get(key: try r.readBlob())
        case .length: return .length(key: try r.readBlob())
        case .timeToLive: return .timeToLive(key: try r.readBlob())
        case .expiryTime: return .expiryTime(key: try r.readBlob())
        case .count: return .count(keys: try keys())
        case .getMany: return .getMany(keys: try keys())
        case .fingerprints: return .fingerprints(keys: try keys())
        case .range:
            let key = try r.readBlob()
            return .range(key: key, start: Int64(bitPattern: try r.readUInt64()), end: Int64(bitPattern: try r.readUInt64()))
        case .history:
            let key = try r.readBlob()
            let limit = try r.readUInt64()
            guard limit <= 1_000 else { throw DecodeError("history limit \(limit) exceeds 1000") }
            return .history(key: key, limit: Int(limit))
        case .bit:
            let key = try r.readBlob()
            return .bit(key: key, offset: try r.readUInt64())
        }
    }
}

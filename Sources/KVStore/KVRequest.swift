import MultiRaft

/// A client's write, as carried in a Raft log entry's data.
///
/// Encoding (little-endian, see `BinaryWriter`):
///
///     [format u8 = 1][clientID u64][sequence u64][timestampMillis u64][command tag u8][fields]
///
/// Byte strings are length-prefixed (u32). Decoding accepts only the canonical encoding (no
/// trailing bytes, booleans 0 or 1), so an entry has exactly one meaning on every replica.
public struct KVRequest: Sendable, Equatable {
    /// The client session; 0 means no session (no deduplication).
    public var clientID: UInt64
    /// Per client, increasing; a retry reuses the same number.
    public var sequence: UInt64
    /// The proposing leader's wall clock (Unix milliseconds); drives expiry deterministically.
    public var timestampMillis: UInt64
    public var command: KVCommand

    public init(clientID: UInt64 = 0, sequence: UInt64 = 0, timestampMillis: UInt64, command: KVCommand) {
        self.clientID = clientID
        self.sequence = sequence
        self.timestampMillis = timestampMillis
        self.command = command
    }

    static let formatVersion: UInt8 = 1

    /// The bytes to propose as a log entry's data.
    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 64 + command.payloadSize)
        w.write(Self.formatVersion)
        w.write(clientID)
        w.write(sequence)
        w.write(timestampMillis)
        command.encode(into: &w)
        return w.bytes
    }

    /// Decodes `encoded()` output; throws a `DecodeError` naming the problem for anything else.
    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> KVRequest {
        var r = BinaryReader(bytes)
        let format = try r.readUInt8()
        guard format == formatVersion else { throw DecodeError("unknown request format \(format)") }
        let clientID = try r.readUInt64()
        let sequence = try r.readUInt64()
        let timestamp = try r.readUInt64()
        let command = try KVCommand.decode(from: &r)
        guard r.remaining == 0 else { throw DecodeError("\(r.remaining) trailing bytes after the request") }
        return KVRequest(clientID: clientID, sequence: sequence, timestampMillis: timestamp, command: command)
    }
}

extension KVCommand {
    private enum Tag: UInt8 {
        case noop = 0, set, delete, incrementBy, append, getDelete, getSet, multiSet, expire, persist, flush, getExpire, multiSetIfAbsent, read, transaction, setRange, incrementByFloat, rename, copy, setBit
    }

    var payloadSize: Int {
        switch self {
        case let .set(k, v, c, _, _):
            if case .ifEqual(let e) = c { return k.count + v.count + e.count }
            return k.count + v.count
        case .delete(let keys): return keys.reduce(0) { $0 + $1.count + 4 }
        case .incrementBy(let k, _), .getDelete(let k), .expire(let k, _, _, _), .persist(let k), .getExpire(let k, _): return k.count
        case .multiSetIfAbsent(let pairs): return pairs.reduce(0) { $0 + $1.0.count + $1.1.count + 8 }
        case let .append(k, v), let .getSet(k, v): return k.count + v.count
        case .multiSet(let pairs): return pairs.reduce(0) { $0 + $1.0.count + $1.1.count + 8 }
        case .noop, .flush: return 0
        case let .setRange(k, _, v), let .incrementByFloat(k, v), let .rename(k, v, _), let .copy(k, v, _): return k.count + v.count + 8
        case .setBit(let k, _, _): return k.count + 9
        case .read(let read): return read.payloadSize
        case let .transaction(watches, steps):
            return watches.reduce(4) { $0 + $1.key.count + 4 + KeyFingerprint.encodedCount } + steps.reduce(4) { $0 + $1.payloadSize + 16 }
        }
    }

    func encode(into w: inout BinaryWriter) {
        switch self {
        case .noop:
            w.write(Tag.noop.rawValue)
        case let .set(key, value, condition, expiry, returnOld):
            w.write(Tag.set.rawValue)
            w.writeBlob(key)
            w.writeBlob(value)
            switch condition {
            case .always: w.write(UInt8(0))
            case .ifAbsent: w.write(UInt8(1))
            case .ifPresent: w.write(UInt8(2))
            case .ifEqual(let expected):
                w.write(UInt8(3))
                w.writeBlob(expected)
            }
            switch expiry {
            case .none: w.write(UInt8(0))
            case .keep: w.write(UInt8(1))
            case .afterMillis(let ms):
                w.write(UInt8(2))
                w.write(ms)
            case .atMillis(let ms):
                w.write(UInt8(3))
                w.write(ms)
            }
            w.write(returnOld)
        case .delete(let keys):
            w.write(Tag.delete.rawValue)
            w.write(UInt32(keys.count))
            for key in keys { w.writeBlob(key) }
        case let .incrementBy(key, delta):
            w.write(Tag.incrementBy.rawValue)
            w.writeBlob(key)
            w.write(UInt64(bitPattern: delta))
        case let .append(key, value):
            w.write(Tag.append.rawValue)
            w.writeBlob(key)
            w.writeBlob(value)
        case .getDelete(let key):
            w.write(Tag.getDelete.rawValue)
            w.writeBlob(key)
        case let .getSet(key, value):
            w.write(Tag.getSet.rawValue)
            w.writeBlob(key)
            w.writeBlob(value)
        case .multiSet(let pairs):
            w.write(Tag.multiSet.rawValue)
            w.write(UInt32(pairs.count))
            for (key, value) in pairs {
                w.writeBlob(key)
                w.writeBlob(value)
            }
        case let .expire(key, millis, absolute, condition):
            w.write(Tag.expire.rawValue)
            w.writeBlob(key)
            w.write(UInt64(bitPattern: millis))
            w.write(absolute)
            w.write(condition.rawValue)
        case .persist(let key):
            w.write(Tag.persist.rawValue)
            w.writeBlob(key)
        case .flush:
            w.write(Tag.flush.rawValue)
        case let .getExpire(key, expiry):
            w.write(Tag.getExpire.rawValue)
            w.writeBlob(key)
            switch expiry {
            case nil, .keep?:
                w.write(UInt8(0))
            case .none?:
                w.write(UInt8(1))
            case .afterMillis(let ms)?:
                w.write(UInt8(2))
                w.write(ms)
            case .atMillis(let ms)?:
                w.write(UInt8(3))
                w.write(ms)
            }
        case .multiSetIfAbsent(let pairs):
            w.write(Tag.multiSetIfAbsent.rawValue)
            w.write(UInt32(pairs.count))
            for (key, value) in pairs {
                w.writeBlob(key)
                w.writeBlob(value)
            }
        case let .setRange(key, offset, value):
            w.write(Tag.setRange.rawValue)
            w.writeBlob(key)
            w.write(UInt64(bitPattern: offset))
            w.writeBlob(value)
        case let .incrementByFloat(key, delta):
            w.write(Tag.incrementByFloat.rawValue)
            w.writeBlob(key)
            w.writeBlob(delta)
        case let .rename(from, to, flag), let .copy(from, to, flag):
            // The flag is RENAMENX's onlyIfAbsent or COPY's replace.
            if case .rename = self { w.write(Tag.rename.rawValue) } else { w.write(Tag.copy.rawValue) }
            w.writeBlob(from)
            w.writeBlob(to)
            w.write(flag)
        case let .setBit(key, offset, bit):
            w.write(Tag.setBit.rawValue)
            w.writeBlob(key)
            w.write(offset)
            w.write(bit)
        case .read(let read):
            w.write(Tag.read.rawValue)
            read.encode(into: &w)
        case let .transaction(watches, steps):
            w.write(Tag.transaction.rawValue)
            w.write(UInt32(watches.count))
            for watch in watches {
                w.writeBlob(watch.key)
                watch.fingerprint.encode(into: &w)
            }
            w.write(UInt32(steps.count))
            for step in steps { step.encode(into: &w) }
        }
    }

    static func decode(from r: inout BinaryReader, inTransaction: Bool = false) throws(DecodeError) -> KVCommand {
        let raw = try r.readUInt8()
        guard let tag = Tag(rawValue: raw) else { throw DecodeError("unknown command tag \(raw)") }
        switch tag {
        case .noop:
            return .noop
        case .set:
            let key = try r.readBlob()
            let value = try r.readBlob()
            let condition: SetCondition
            switch try r.readUInt8() {
            case 0: condition = .always
            case 1: condition = .ifAbsent
            case 2: condition = .ifPresent
            case 3: condition = .ifEqual(try r.readBlob())
            case let other: throw DecodeError("unknown SET condition \(other)")
            }
            let expiry: Expiry
            switch try r.readUInt8() {
            case 0: expiry = .none
            case 1: expiry = .keep
            case 2: expiry = .afterMillis(try r.readUInt64())
            case 3: expiry = .atMillis(try r.readUInt64())
            case let other: throw DecodeError("unknown SET expiry \(other)")
            }
            let returnOld = try readStrictBool(&r, "SET GET flag")
            return .set(key: key, value: value, condition: condition, expiry: expiry, returnOld: returnOld)
        case .delete:
            let n = try readCount(&r, elementSize: 4, "DEL keys")
            var keys: [[UInt8]] = []
            keys.reserveCapacity(n)
            for _ in 0..<n { keys.append(try r.readBlob()) }
            return .delete(keys: keys)
        case .incrementBy:
            let key = try r.readBlob()
            return .incrementBy(key: key, delta: Int64(bitPattern: try r.readUInt64()))
        case .append:
            let key = try r.readBlob()
            return .append(key: key, value: try r.readBlob())
        case .getDelete:
            return .getDelete(key: try r.readBlob())
        case .getSet:
            let key = try r.readBlob()
            return .getSet(key: key, value: try r.readBlob())
        case .multiSet:
            let n = try readCount(&r, elementSize: 8, "MSET pairs")
            var pairs: [([UInt8], [UInt8])] = []
            pairs.reserveCapacity(n)
            for _ in 0..<n {
                let key = try r.readBlob()
                pairs.append((key, try r.readBlob()))
            }
            return .multiSet(pairs: pairs)
        case .expire:
            let key = try r.readBlob()
            let millis = Int64(bitPattern: try r.readUInt64())
            let absolute = try readStrictBool(&r, "EXPIRE absolute flag")
            let raw = try r.readUInt8()
            guard let condition = ExpireCondition(rawValue: raw) else { throw DecodeError("unknown EXPIRE condition \(raw)") }
            return .expire(key: key, millis: millis, absolute: absolute, condition: condition)
        case .persist:
            return .persist(key: try r.readBlob())
        case .flush:
            return .flush
        case .getExpire:
            let key = try r.readBlob()
            switch try r.readUInt8() {
            case 0: return .getExpire(key: key, expiry: nil)
            case 1: return .getExpire(key: key, expiry: Expiry.none)
            case 2: return .getExpire(key: key, expiry: .afterMillis(try r.readUInt64()))
            case 3: return .getExpire(key: key, expiry: .atMillis(try r.readUInt64()))
            case let other: throw DecodeError("unknown GETEX expiry \(other)")
            }
        case .multiSetIfAbsent:
            let n = try readCount(&r, elementSize: 8, "MSETNX pairs")
            var pairs: [([UInt8], [UInt8])] = []
            pairs.reserveCapacity(n)
            for _ in 0..<n {
                let key = try r.readBlob()
                pairs.append((key, try r.readBlob()))
            }
            return .multiSetIfAbsent(pairs: pairs)
        case .setRange:
            let key = try r.readBlob()
            let offset = Int64(bitPattern: try r.readUInt64())
            return .setRange(key: key, offset: offset, value: try r.readBlob())
        case .incrementByFloat:
            let key = try r.readBlob()
            return .incrementByFloat(key: key, delta: try r.readBlob())
        case .rename:
            let from = try r.readBlob()
            let to = try r.readBlob()
            return .rename(from: from, to: to, onlyIfAbsent: try readStrictBool(&r, "RENAMENX flag"))
        case .copy:
            let from = try r.readBlob()
            let to = try r.readBlob()
            return .copy(from: from, to: to, replace: try readStrictBool(&r, "COPY REPLACE flag"))
        case .setBit:
            let key = try r.readBlob()
            let offset = try r.readUInt64()
            return .setBit(key: key, offset: offset, bit: try readStrictBool(&r, "SETBIT bit"))
        case .read:
            return .read(try KVRead.decode(from: &r))
        case .transaction:
            guard !inTransaction else { throw DecodeError("a transaction inside a transaction") }
            let n = try readCount(&r, elementSize: 4 + KeyFingerprint.encodedCount, "watched keys")
            var watches: [WatchedKey] = []
            watches.reserveCapacity(n)
            for _ in 0..<n {
                let key = try r.readBlob()
                watches.append(WatchedKey(key: key, fingerprint: try KeyFingerprint.decode(from: &r)))
            }
            let m = try readCount(&r, elementSize: 1, "transaction steps")
            var steps: [KVCommand] = []
            steps.reserveCapacity(m)
            for _ in 0..<m { steps.append(try decode(from: &r, inTransaction: true)) }
            return .transaction(watches: watches, steps: steps)
        }
    }

    /// A count whose elements take at least `elementSize` bytes each, checked against the
    /// input before anything is reserved for them.
    private static func readCount(_ r: inout BinaryReader, elementSize: Int, _ what: String) throws(DecodeError) -> Int {
        let n = Int(try r.readUInt32())
        guard n * elementSize <= r.remaining else { throw DecodeError("\(n) \(what) exceed the input") }
        return n
    }

    private static func readStrictBool(_ r: inout BinaryReader, _ what: String) throws(DecodeError) -> Bool {
        switch try r.readUInt8() {
        case 0: return false
        case 1: return true
        case let other: throw DecodeError("\(what) is \(other), expected 0 or 1")
        }
    }
}

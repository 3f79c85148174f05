import MultiRaft

/// A client write as carried in a log entry: a unique operation id, a key and a value.
struct SimWrite: Equatable {
    var op: UInt64
    var key: UInt8
    var value: UInt64

    func encoded() -> [UInt8] {
        var w = BinaryWriter()
        w.write(op)
        w.write(key)
        w.write(value)
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) -> SimWrite? {
        var r = BinaryReader(bytes)
        guard let op = try? r.readUInt64(), let key = try? r.readUInt8(), let value = try? r.readUInt64() else { return nil }
        return SimWrite(op: op, key: key, value: value)
    }
}

/// The simulated state machine: a tiny key-value map.
struct SimKV {
    var values: [UInt8: UInt64] = [:]
    var applied: LogIndex = 0

    mutating func apply(_ e: Entry) -> SimWrite? {
        applied = e.index
        guard e.kind == .normal, !e.data.isEmpty, let w = SimWrite.decode(e.data) else { return nil }
        values[w.key] = w.value
        return w
    }

    func snapshotData() -> [UInt8] {
        var w = BinaryWriter()
        w.write(UInt32(values.count))
        for (k, v) in values.sorted(by: { $0.key < $1.key }) {
            w.write(k)
            w.write(v)
        }
        return w.bytes
    }

    static func restore(_ data: [UInt8], index: LogIndex) -> SimKV? {
        var r = BinaryReader(data)
        guard let n = try? r.readUInt32() else { return nil }
        var kv = SimKV()
        for _ in 0..<n {
            guard let k = try? r.readUInt8(), let v = try? r.readUInt64() else { return nil }
            kv.values[k] = v
        }
        kv.applied = index
        return kv
    }
}

/// FNV-1a, for fingerprinting entry payloads in the checker.
func fingerprint(_ bytes: [UInt8]) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
    return h
}

func mixChain(_ prev: UInt64, term: Term, kind: Entry.Kind, data: UInt64) -> UInt64 {
    var h = prev ^ 0x9E37_79B9_7F4A_7C15
    h = (h ^ term.rawValue) &* 0xBF58_476D_1CE4_E5B9
    h = (h ^ UInt64(kind.rawValue)) &* 0x94D0_49BB_1331_11EB
    h = (h ^ data) &* 0xBF58_476D_1CE4_E5B9
    return h ^ (h >> 31)
}

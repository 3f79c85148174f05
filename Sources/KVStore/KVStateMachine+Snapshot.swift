import MultiRaft

/// The snapshot stream: the whole replicated state, written piece by piece.
///
///     "MYKVSNAP" [format u32 = 1] [appliedIndex u64] [clockMillis u64]
///     [live count u64]    record*   live keys (expired ones not purged yet included), key order
///     [retired count u64] record*   retired keys, longest retired first
///     [session count u64] session*  least recently used first
///     [crc32c u32 of everything before it]
///
///     record:  [key blob] [flags u8: 1 = value, 2 = expiry] [value blob]? [expiresAt u64]?
///              [versions u32] ([index u64] [has value u8] [value blob]?)*   oldest first
///     session: [clientID u64] [floor u64] [lastSeenMillis u64] [results u32] ([sequence u64] [result])*
///
/// The orders written are the eviction orders, so a restored replica evicts exactly what the
/// original would have.
extension KVStateMachine {
    static let snapshotMagic: [UInt8] = Array("MYKVSNAP".utf8)
    static let snapshotFormat: UInt32 = 1

    /// Streams the whole state (keys, values, expiries, histories, sessions, appliedIndex,
    /// clock) through `sink` in pieces of at most `settings.snapshotPieceBytes`, never building
    /// one big buffer.
    public func writeSnapshot(to sink: ([UInt8]) throws -> Void) rethrows {
        var out = SnapshotOutput(pieceBytes: settings.snapshotPieceBytes)
        try out.write(Self.snapshotMagic, to: sink)
        try out.write(Self.snapshotFormat, to: sink)
        try out.write(appliedIndex.rawValue, to: sink)
        try out.write(clockMillis, to: sink)
        try out.write(UInt64(keyOrder.count), to: sink)
        for key in keyOrder {
            try writeRecord(key, records[key]!, into: &out, sink)
        }
        try out.write(UInt64(retired.count), to: sink)
        for key in retired {
            try writeRecord(key, records[key]!, into: &out, sink)
        }
        try out.write(UInt64(sessions.count), to: sink)
        var w = BinaryWriter()
        for clientID in sessions.order {
            let s = sessions.sessions[clientID]!
            try out.write(clientID, to: sink)
            try out.write(s.floor, to: sink)
            try out.write(s.lastSeenMillis, to: sink)
            try out.write(UInt32(s.results.count), to: sink)
            for (seq, result) in s.results.sorted(by: { $0.key < $1.key }) {
                try out.write(seq, to: sink)
                w.reset()
                result.encode(into: &w)
                try out.write(w.bytes, to: sink)
            }
        }
        w.reset()
        w.write(out.checksum())
        try out.writeUnchecked(w.bytes, to: sink)
        try out.flush(to: sink)
    }

    private func writeRecord(_ key: StoreKey, _ record: KeyRecord, into out: inout SnapshotOutput,
                             _ sink: ([UInt8]) throws -> Void) rethrows {
        try out.writeBlob(key.bytes, to: sink)
        try out.write(UInt8((record.value != nil ? 1 : 0) | (record.expiresAt != nil ? 2 : 0)), to: sink)
        if let value = record.value { try out.writeBlob(value, to: sink) }
        if let at = record.expiresAt { try out.write(at, to: sink) }
        try out.write(UInt32(record.history.count), to: sink)
        for version in record.history {
            try out.write(version.index.rawValue, to: sink)
            try out.write(UInt8(version.value != nil ? 1 : 0), to: sink)
            if let value = version.value { try out.writeBlob(value, to: sink) }
        }
    }

    /// Replaces the state with one written by `writeSnapshot`; `source` returns the next piece
    /// or nil at the end. Throws `DecodeError` (naming what is wrong and where) on malformed
    /// input, or what `source` throws; the state is unchanged in either case.
    public func restore(from source: () throws -> [UInt8]?) throws {
        try withoutActuallyEscaping(source) { source in
            let image = try SnapshotImage.read(from: SnapshotInput(source: source), settings: settings)
            records = image.records
            keyOrder = image.keyOrder
            deadlines = image.deadlines
            retired = image.retired
            sessions = image.sessions
            appliedIndex = image.appliedIndex
            clockMillis = image.clockMillis
        }
    }
}

/// A state decoded from a snapshot stream, built aside so a bad stream changes nothing.
struct SnapshotImage {
    var records: [StoreKey: KeyRecord] = [:]
    var keyOrder = SortedIndex<StoreKey>()
    var deadlines = SortedIndex<ExpiryDeadline>()
    var retired = EvictionQueue<StoreKey>()
    var sessions: ClientSessions
    var appliedIndex: LogIndex = 0
    var clockMillis: UInt64 = 0

    static func read(from input: SnapshotInput, settings: KVSettings) throws -> SnapshotImage {
        var image = SnapshotImage(sessions: ClientSessions(maxSessions: settings.maxSessions, ttlMillis: settings.sessionTTLMillis, window: settings.sessionWindow))
        guard try input.read(8, "magic") == KVStateMachine.snapshotMagic else {
            throw DecodeError("not a MyStore key-value snapshot (bad magic)")
        }
        let format = try input.readUInt32("format")
        guard format == KVStateMachine.snapshotFormat else { throw DecodeError("unknown snapshot format \(format)") }
        image.appliedIndex = LogIndex(rawValue: try input.readUInt64("applied index"))
        image.clockMillis = try input.readUInt64("clock")

        let liveCount = try input.readUInt64("live key count")
        var previous: StoreKey?
        for n in 0..<liveCount {
            let (key, record) = try readRecord(input, settings: settings, what: "live key #\(n)")
            guard record.value != nil else { throw DecodeError("live key #\(n) has no value") }
            if let previous, !(previous < key) { throw DecodeError("live key #\(n) is out of key order") }
            previous = key
            image.records[key] = record
            image.keyOrder.insert(key)
            if let at = record.expiresAt { image.deadlines.insert(ExpiryDeadline(millis: at, key: key)) }
        }

        let retiredCount = try input.readUInt64("retired key count")
        for n in 0..<retiredCount {
            let (key, record) = try readRecord(input, settings: settings, what: "retired key #\(n)")
            guard record.value == nil, record.expiresAt == nil, !record.history.isEmpty else {
                throw DecodeError("retired key #\(n) has a value, an expiry or no history")
            }
            guard image.records[key] == nil else { throw DecodeError("retired key #\(n) appears twice") }
            image.records[key] = record
            image.retired.append(key)
        }
        while image.retired.count > settings.maxRetiredKeys, let oldest = image.retired.removeFirst() {
            image.records.removeValue(forKey: oldest)
        }

        let sessionCount = try input.readUInt64("session count")
        var seen = Set<UInt64>()
        for n in 0..<sessionCount {
            let clientID = try input.readUInt64("session #\(n) client")
            let floor = try input.readUInt64("session #\(n) floor")
            let lastSeen = try input.readUInt64("session #\(n) last seen")
            let count = try input.readUInt32("session #\(n) result count")
            guard Int(count) <= image.sessions.window else {
                throw DecodeError("session #\(n) holds \(count) results, more than the window of \(image.sessions.window)")
            }
            var results: [UInt64: KVResult] = [:]
            for k in 0..<count {
                let seq = try input.readUInt64("session #\(n) sequence #\(k)")
                results[seq] = try readResult(input, what: "session #\(n) result #\(k)")
            }
            guard clientID != 0, seen.insert(clientID).inserted else {
                throw DecodeError("session #\(n) has client id \(clientID), zero or repeated")
            }
            image.sessions.restore(clientID: clientID, session: .init(results: results, floor: floor, lastSeenMillis: lastSeen))
        }

        let computed = input.checksum
        let stored = try input.readUInt32("checksum", checked: false)
        guard stored == computed else {
            throw DecodeError("snapshot checksum mismatch: stored \(stored), computed \(computed)")
        }
        guard try input.atEnd() else { throw DecodeError("trailing bytes after the snapshot's checksum") }
        return image
    }

    private static func readRecord(_ input: SnapshotInput, settings: KVSettings, what: String) throws -> (StoreKey, KeyRecord) {
        let limit = settings.maxValueBytes
        let key = StoreKey(try input.readBlob(limit: limit, "\(what) key"))
        let flags = try input.readUInt8("\(what) flags")
        guard flags & ~3 == 0 else { throw DecodeError("\(what) has unknown flags \(flags)") }
        var record = KeyRecord()
        if flags & 1 != 0 { record.value = try input.readBlob(limit: limit, "\(what) value") }
        if flags & 2 != 0 {
            guard record.value != nil else { throw DecodeError("\(what) has an expiry but no value") }
            record.expiresAt = try input.readUInt64("\(what) expiry")
        }
        let versions = try input.readUInt32("\(what) version count")
        for v in 0..<versions {
            let index = try input.readUInt64("\(what) version \(v) index")
            let hasValue = try input.readUInt8("\(what) version \(v) flag")
            guard hasValue <= 1 else { throw DecodeError("\(what) version \(v) has flag \(hasValue)") }
            let value = hasValue == 1 ? try input.readBlob(limit: limit, "\(what) version \(v) value") : nil
            // A snapshot from a replica with a deeper history keeps the newest versions.
            record.recordVersion(KeyVersion(index: LogIndex(rawValue: index), value: value), depth: settings.historyDepth)
        }
        return (key, record)
    }

    /// A session's cached result: a tag, then the fields `KVResult.encode` writes.
    private static func readResult(_ input: SnapshotInput, what: String, depth: Int = 0) throws -> KVResult {
        let tag = try input.readUInt8("\(what) tag")
        switch tag {
        case 0: return .ok
        case 1: return .null
        case 2: return .integer(Int64(bitPattern: try input.readUInt64(what)))
        case 3: return .bulk(try input.readBlob(limit: Int(UInt32.max), what))
        case 4:
            guard let text = String(validating: try input.readBlob(limit: Int(UInt32.max), what), as: UTF8.self) else {
                throw DecodeError("\(what) error text is not valid UTF-8")
            }
            return .error(text)
        case 5:
            guard depth < KVResult.maxDecodeDepth else { throw DecodeError("\(what) nested deeper than \(KVResult.maxDecodeDepth)") }
            let n = try input.readUInt32("\(what) array count")
            var items: [KVResult] = []
            for _ in 0..<n { items.append(try readResult(input, what: what, depth: depth + 1)) }
            return .array(items)
        default:
            throw DecodeError("\(what) has unknown tag \(tag)")
        }
    }
}

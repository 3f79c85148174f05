import SystemClock

/// Settings of the write-ahead log.
public struct WALSettings: Sendable {
    /// Folder of the segment files.
    public var directory: String
    /// A new segment is started once the active one exceeds this size (bytes).
    public var segmentBytes = 64 << 20
    /// Largest record accepted when reading (bytes); a larger length field is corruption.
    public var maxRecordBytes = 256 << 20
    /// Failpoint for the fault suite: only a group's first records (its creation) are written;
    /// every later append, vote and commit is acknowledged without reaching the disk, so a
    /// killed node comes back with a stale log and term. Never set by a production configuration.
    public var plantedSkipWrites = false

    public init(directory: String) { self.directory = directory }
}

/// What the WAL holds for one group after recovery.
public struct RecoveredGroup: Sendable {
    public var hardState = HardState()
    /// Entries after `compactedThrough`, contiguous.
    public var entries: [Entry] = []
    public var compactedThrough: LogIndex = 0
}

/// The node's write-ahead log: segmented append-only files shared by every Raft group, each
/// record framed with its length and CRC-32C. `append` writes a whole batch (the records of
/// every group from one host loop iteration) with one write and one fdatasync: group commit.
public final class WriteAheadLog {
    struct Segment {
        var sequence: UInt64
        var path: String
        var size: Int
        /// Highest entry index written into this segment, per group.
        var maxIndex: [GroupID: LogIndex] = [:]
    }

    public let settings: WALSettings
    private var segments: [Segment] = []
    private var active: DurableFile
    private var buffer = BinaryWriter(capacity: 1 << 16)
    /// The latest hard state and compaction point per group, rewritten at the head of each
    /// new segment so that older segments are never needed for them.
    private var hardStates: [GroupID: HardState] = [:]
    private var compactedThrough: [GroupID: LogIndex] = [:]
    private var removedGroups: Set<GroupID> = []
    /// Failpoint bookkeeping: groups whose creation was written (see `plantedSkipWrites`).
    private var plantedWrittenGroups: Set<GroupID> = []

    /// The groups' state found on disk when the log was opened.
    public private(set) var recovered: [GroupID: RecoveredGroup] = [:]
    /// What recovery repaired (a torn tail), for the node's log.
    public private(set) var recoveryNotes: [String] = []

    public private(set) var recordsWritten = 0
    public private(set) var bytesWritten = 0
    public private(set) var syncs = 0
    /// Called after each fdatasync in `append`, on the appending thread, with how long the
    /// fdatasync took and how many records it made durable (for the node's metrics).
    public var onSync: (@Sendable (_ seconds: Double, _ records: Int) -> Void)?

    /// Opens (creating if needed) the log in `settings.directory` and recovers every group.
    /// Throws with file and offset when a segment is corrupt before its tail.
    public init(settings: WALSettings) throws(StorageError) {
        self.settings = settings
        try FileSystem.makeDirectory(settings.directory)
        let names = try FileSystem.list(settings.directory).filter { $0.hasPrefix("wal-") && $0.hasSuffix(".log") }
        var segs: [Segment] = []
        for name in names {
            guard let seq = UInt64(name.dropFirst(4).dropLast(4), radix: 16) else {
                throw StorageError(path: settings.directory + "/" + name, reason: "not a WAL segment name (expected wal-<16 hex digits>.log)",
                                   remedy: "Move the file out of the data directory")
            }
            segs.append(Segment(sequence: seq, path: settings.directory + "/" + name, size: 0))
        }
        segs.sort { $0.sequence < $1.sequence }
        var state: [GroupID: RecoveredGroup] = [:]
        var notes: [String] = []
        for k in segs.indices {
            try Self.replay(&segs[k], isLast: k == segs.count - 1, maxRecord: settings.maxRecordBytes, into: &state, notes: &notes)
        }
        if segs.isEmpty {
            let path = settings.directory + "/" + Self.segmentName(1)
            segs.append(Segment(sequence: 1, path: path, size: 0))
        }
        active = try DurableFile(path: segs.last!.path, mode: .appendCreate)
        segments = segs
        recovered = state.filter { !$0.value.entries.isEmpty || $0.value.hardState != HardState() || $0.value.compactedThrough > 0 }
        recoveryNotes = notes
        for (g, r) in state {
            hardStates[g] = r.hardState
            compactedThrough[g] = r.compactedThrough
        }
        try FileSystem.syncDirectory(settings.directory)
    }

    static func segmentName(_ seq: UInt64) -> String {
        let hex = String(seq, radix: 16)
        return "wal-" + String(repeating: "0", count: max(0, 16 - hex.count)) + hex + ".log"
    }

    // MARK: - Writing

    /// Appends `records` durably: one write, one fdatasync. Returns once they are on disk.
    public func append(_ records: [WALRecord]) throws(StorageError) {
        var records = records
        #if MYSTORE_PLANTED_BUGS
        if settings.plantedSkipWrites {
            let fresh = Set(records.map(\.group)).subtracting(plantedWrittenGroups).subtracting(recovered.keys)
            plantedWrittenGroups.formUnion(fresh)
            records = records.filter { fresh.contains($0.group) }
        }
        #endif
        guard !records.isEmpty else { return }
        buffer.reset()
        for r in records { r.encode(into: &buffer) }
        if segments[segments.count - 1].size > 0 && segments[segments.count - 1].size + buffer.bytes.count > settings.segmentBytes {
            try roll()
            buffer.reset()
            for r in records { r.encode(into: &buffer) }
        }
        try active.append(buffer.bytes)
        let started = onSync == nil ? 0 : monotonicNanos()
        try active.sync()
        if let onSync { onSync(Double(monotonicNanos() - started) / 1e9, records.count) }
        syncs += 1
        recordsWritten += records.count
        bytesWritten += buffer.bytes.count
        segments[segments.count - 1].size += buffer.bytes.count
        var dropsData = false
        for r in records {
            note(r, in: segments.count - 1)
            switch r {
            case .compacted, .removed: dropsData = true
            default: break
            }
        }
        if dropsData { try deleteObsoleteSegments() }
    }

    private func note(_ r: WALRecord, in k: Int) {
        switch r {
        case .entries(let g, let ents):
            removedGroups.remove(g)
            if let last = ents.last?.index { segments[k].maxIndex[g] = max(segments[k].maxIndex[g] ?? 0, last) }
        case .hardState(let g, let hs):
            removedGroups.remove(g)
            hardStates[g] = hs
        case .compacted(let g, let i), .installedSnapshot(let g, let i):
            removedGroups.remove(g)
            compactedThrough[g] = max(compactedThrough[g] ?? 0, i)
        case .removed(let g):
            removedGroups.insert(g)
            hardStates[g] = nil
            compactedThrough[g] = nil
            recovered[g] = nil
        }
    }

    /// Starts a new segment headed by every group's hard state and compaction point.
    private func roll() throws(StorageError) {
        let seq = segments.last!.sequence + 1
        let path = settings.directory + "/" + Self.segmentName(seq)
        let file = try DurableFile(path: path, mode: .truncateCreate)
        var head = BinaryWriter()
        for g in hardStates.keys.sorted() {
            WALRecord.hardState(group: g, state: hardStates[g]!).encode(into: &head)
            if let c = compactedThrough[g], c > 0 { WALRecord.compacted(group: g, through: c).encode(into: &head) }
        }
        if !head.bytes.isEmpty { try file.append(head.bytes) }
        try file.sync()
        try FileSystem.syncDirectory(settings.directory)
        active = file
        segments.append(Segment(sequence: seq, path: path, size: head.bytes.count))
        try deleteObsoleteSegments()
    }

    /// Records that `group` no longer needs entries up to `index` (a durable snapshot covers
    /// them) and deletes segments that no group needs any more.
    public func compact(group: GroupID, through index: LogIndex) throws(StorageError) {
        guard index > (compactedThrough[group] ?? 0) else { return }
        try append([.compacted(group: group, through: index)])
    }

    private func deleteObsoleteSegments() throws(StorageError) {
        while segments.count > 1 {
            let s = segments[0]
            let needed = s.maxIndex.contains { g, maxIndex in
                !removedGroups.contains(g) && maxIndex > (compactedThrough[g] ?? 0)
            }
            if needed { return }
            try FileSystem.remove(s.path)
            segments.removeFirst()
        }
    }

    public var segmentCount: Int { segments.count }

    // MARK: - Recovery

    private static func replay(_ seg: inout Segment, isLast: Bool, maxRecord: Int,
                               into state: inout [GroupID: RecoveredGroup], notes: inout [String]) throws(StorageError) {
        let file = try DurableFile(path: seg.path, mode: isLast ? .appendCreate : .readOnly)
        let bytes = try file.readAll()
        var offset = 0
        while offset < bytes.count {
            switch Self.parse(bytes, at: offset, maxRecord: maxRecord) {
            case .record(let r, let next):
                apply(r, to: &state, segment: &seg)
                offset = next
            case .bad(let why):
                if isLast && !Self.hasValidRecord(bytes, after: offset, maxRecord: maxRecord) {
                    // A torn tail: the crash interrupted the last write. Nothing after it was
                    // ever acknowledged, so it is cut off.
                    try file.truncate(to: offset)
                    try file.sync()
                    notes.append("\(seg.path): truncated a torn tail at byte offset \(offset) (\(bytes.count - offset) bytes, \(why))")
                    seg.size = offset
                    return
                }
                throw StorageError(path: seg.path, offset: offset, reason: "WAL record is corrupt (\(why)) and valid records follow it",
                                   remedy: "This node's log cannot be trusted: stop it, move its data directory aside and let it rejoin the cluster from the other replicas")
            }
        }
        seg.size = bytes.count
    }

    enum Parsed {
        case record(WALRecord, next: Int)
        case bad(String)
    }

    static func parse(_ bytes: [UInt8], at offset: Int, maxRecord: Int) -> Parsed {
        guard bytes.count - offset >= WALRecord.headerSize else { return .bad("truncated header") }
        let length = Int(readU32(bytes, offset))
        let crc = readU32(bytes, offset + 4)
        guard length >= 9, length <= maxRecord else { return .bad("implausible length \(length)") }
        let start = offset + WALRecord.headerSize
        guard bytes.count - start >= length else { return .bad("record runs past the end of the file") }
        let body = bytes[start..<(start + length)]
        guard CRC32C.checksum(body) == crc else { return .bad("checksum mismatch") }
        do {
            return .record(try WALRecord.decode(body), next: start + length)
        } catch {
            return .bad("undecodable record: \(error)")
        }
    }

    /// Whether any intact record starts after `offset`: if so the damage is not a torn tail.
    static func hasValidRecord(_ bytes: [UInt8], after offset: Int, maxRecord: Int) -> Bool {
        var p = offset + 1
        while p + WALRecord.headerSize + 9 <= bytes.count {
            let length = Int(readU32(bytes, p))
            if length >= 9 && length <= maxRecord && p + WALRecord.headerSize + length <= bytes.count {
                if case .record = parse(bytes, at: p, maxRecord: maxRecord) { return true }
            }
            p += 1
        }
        return false
    }

    static func readU32(_ b: [UInt8], _ o: Int) -> UInt32 {
        UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
    }

    private static func apply(_ r: WALRecord, to state: inout [GroupID: RecoveredGroup], segment: inout Segment) {
        if case .entries(let g, let ents) = r, let last = ents.last?.index {
            segment.maxIndex[g] = max(segment.maxIndex[g] ?? 0, last)
        }
        RecoveredGroup.apply(r, to: &state)
    }
}

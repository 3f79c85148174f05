/// Durable storage of the Raft logs and hard states of every group on a node.
/// `append` returns only once the records are durable; what `recovered` returns after a
/// restart is exactly what was appended, in order.
public protocol LogStorage: AnyObject {
    func append(_ records: [WALRecord]) throws(StorageError)
    func compact(group: GroupID, through index: LogIndex) throws(StorageError)
    var recovered: [GroupID: RecoveredGroup] { get }
}

extension WriteAheadLog: LogStorage {}

/// The same contract in memory: what the simulator and unit tests persist into. "Durable"
/// here means "survives a simulated crash", which throws away everything else.
public final class MemoryLogStorage: LogStorage {
    private var state: [GroupID: RecoveredGroup] = [:]
    public private(set) var syncs = 0

    public init() {}

    public func append(_ records: [WALRecord]) throws(StorageError) {
        guard !records.isEmpty else { return }
        for r in records { RecoveredGroup.apply(r, to: &state) }
        syncs += 1
    }

    public func compact(group: GroupID, through index: LogIndex) throws(StorageError) {
        RecoveredGroup.apply(.compacted(group: group, through: index), to: &state)
    }

    public var recovered: [GroupID: RecoveredGroup] { state }
}

extension RecoveredGroup {
    /// Replays one record onto the groups' state (shared by WAL recovery and memory storage).
    static func apply(_ r: WALRecord, to state: inout [GroupID: RecoveredGroup]) {
        let g = r.group
        // Taken out of the dictionary so the entries are uniquely referenced and appends do
        // not copy them (recovery of a long log stays linear).
        var s = state.removeValue(forKey: g) ?? RecoveredGroup()
        switch r {
        case .entries(_, let ents):
            guard let first = ents.first?.index else { break }
            // Truncate from `first` (entries are contiguous, so its position is arithmetic),
            // then append what lies beyond the compaction point.
            if let base = s.entries.first?.index, let last = s.entries.last?.index, first <= last {
                s.entries.removeSubrange(Int(first > base ? first - base : 0)...)
            }
            for e in ents where e.index > s.compactedThrough {
                if let last = s.entries.last?.index, e.index != last + 1 { break }
                s.entries.append(e)
            }
        case .hardState(_, let hs):
            s.hardState = hs
        case .compacted(_, let i):
            s.compactedThrough = max(s.compactedThrough, i)
            if let base = s.entries.first?.index, let last = s.entries.last?.index, i < last {
                if i >= base { s.entries.removeSubrange(..<Int(i - base + 1)) }
            } else {
                s.entries = []
            }
        case .installedSnapshot(_, let i):
            s.compactedThrough = i
            s.entries = []
        case .removed:
            state[g] = nil
            return
        }
        state[g] = s
    }

    /// The records that make one `Ready` of `group` durable. The hard state goes before the
    /// entries: a torn write may keep a prefix of a batch, and entries of a term must never
    /// survive without that term (a commit index beyond the entries is clamped at recovery).
    public static func records(for group: GroupID, ready rd: Ready) -> [WALRecord] {
        var out: [WALRecord] = []
        if let snap = rd.snapshot { out.append(.installedSnapshot(group: group, index: snap.metadata.index)) }
        if let hs = rd.hardState { out.append(.hardState(group: group, state: hs)) }
        if !rd.entries.isEmpty { out.append(.entries(group: group, entries: rd.entries)) }
        return out
    }
}

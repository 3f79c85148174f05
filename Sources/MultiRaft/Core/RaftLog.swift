/// The replica's log: a compacted prefix summarised by (snapshotIndex, snapshotTerm), the
/// entries after it held in memory (bounded by compaction), and the watermarks that say what
/// is committed, durable and applied. The host persists entries as the core hands them out in
/// `Ready`; the core keeps its own copy so that it never reads storage.
struct RaftLog: Sendable {
    private(set) var snapshotIndex: LogIndex
    private(set) var snapshotTerm: Term
    /// entries[k].index == snapshotIndex + 1 + k
    private(set) var entries: [Entry]
    private(set) var committed: LogIndex
    /// Highest index handed to the application.
    var applied: LogIndex
    /// First index not yet handed out for persistence.
    var unstableFrom: LogIndex
    /// Highest index known durable on this replica.
    var persisted: LogIndex

    init(snapshotIndex: LogIndex, snapshotTerm: Term, entries: [Entry], committed: LogIndex) {
        self.snapshotIndex = snapshotIndex
        self.snapshotTerm = snapshotTerm
        self.entries = entries
        self.committed = committed
        self.applied = snapshotIndex
        let last = snapshotIndex + UInt64(entries.count)
        self.unstableFrom = last + 1
        self.persisted = last
    }

    var firstIndex: LogIndex { snapshotIndex + 1 }
    var lastIndex: LogIndex { snapshotIndex + UInt64(entries.count) }
    var lastTerm: Term { term(at: lastIndex) ?? 0 }

    /// The term of the entry at `i`, or nil if compacted away or beyond the end.
    func term(at i: LogIndex) -> Term? {
        if i == snapshotIndex { return snapshotTerm }
        if i < snapshotIndex || i > lastIndex { return nil }
        return entries[Int(i - snapshotIndex - 1)].term
    }

    func matchTerm(_ i: LogIndex, _ t: Term) -> Bool { term(at: i) == t }

    func entry(at i: LogIndex) -> Entry? {
        guard i > snapshotIndex && i <= lastIndex else { return nil }
        return entries[Int(i - snapshotIndex - 1)]
    }

    /// Entries in [lo, hi], at most `maxBytes` (but at least one entry).
    func slice(from lo: LogIndex, through hi: LogIndex, maxBytes: Int = .max) -> [Entry] {
        guard lo <= hi, lo > snapshotIndex, hi <= lastIndex else { return [] }
        var out: [Entry] = []
        var size = 0
        var i = lo
        while i <= hi {
            let e = entries[Int(i - snapshotIndex - 1)]
            size += e.byteSize
            if !out.isEmpty && size > maxBytes { break }
            out.append(e)
            i += 1
        }
        return out
    }

    /// Raft's "at least as up to date" rule (§5.4.1).
    func isUpToDate(lastIndex li: LogIndex, term t: Term) -> Bool {
        t > lastTerm || (t == lastTerm && li >= lastIndex)
    }

    /// The first index in `ents` whose term differs from ours, or 0 if all match.
    func findConflict(_ ents: [Entry]) -> LogIndex {
        for e in ents where !matchTerm(e.index, e.term) { return e.index }
        return 0
    }

    /// The largest (index, term) at or below `index` whose term is <= `term`: the fast
    /// backtracking hint that skips a whole conflicting term per round trip.
    func findConflictByTerm(_ index: LogIndex, _ t: Term) -> (LogIndex, Term) {
        var i = min(index, lastIndex)
        while true {
            guard let ourTerm = term(at: i) else { return (i, 0) }
            if ourTerm <= t || i == 0 { return (i, ourTerm) }
            i -= 1
        }
    }

    /// Follower side of AppendEntries: appends if (prevIndex, prevTerm) matches and returns
    /// the last new index, or nil on mismatch.
    mutating func maybeAppend(prevIndex: LogIndex, prevTerm: Term, commit: LogIndex, entries ents: [Entry]) -> LogIndex? {
        guard matchTerm(prevIndex, prevTerm) else { return nil }
        let lastNew = prevIndex + UInt64(ents.count)
        let conflict = findConflict(ents)
        if conflict != 0 {
            // A leader never rewrites committed entries; a message that tries is refused
            // rather than obeyed (it can only come from a bug or corruption elsewhere).
            guard conflict > committed else { return nil }
            append(Array(ents[Int(conflict - prevIndex - 1)...]))
        }
        self.commit(to: min(commit, lastNew))
        return lastNew
    }

    /// Appends, truncating any conflicting suffix first. Returns the new last index.
    @discardableResult
    mutating func append(_ ents: [Entry]) -> LogIndex {
        guard let first = ents.first?.index else { return lastIndex }
        precondition(first > committed, "truncating committed entries")
        precondition(first <= lastIndex + 1, "gap in log")
        if first <= lastIndex {
            entries.removeSubrange(Int(first - snapshotIndex - 1)...)
            unstableFrom = min(unstableFrom, first)
            persisted = min(persisted, first - 1)
        }
        entries.append(contentsOf: ents)
        checkInvariants("append")
        return lastIndex
    }

    mutating func commit(to i: LogIndex) {
        let i = min(i, lastIndex)
        if i > committed { committed = i }
        checkInvariants("commit")
    }

    /// Leader side: commit `i` if it is beyond the commit index and (unless the planted bug
    /// is on) of the current term (§5.4.2).
    mutating func maybeCommit(_ i: LogIndex, term t: Term, anyTerm: Bool) -> Bool {
        if i > committed && (anyTerm || term(at: i) == t) {
            commit(to: i)
            return true
        }
        return false
    }

    /// Replaces the whole log by a snapshot.
    mutating func restore(index: LogIndex, term t: Term) {
        snapshotIndex = index
        snapshotTerm = t
        entries = []
        committed = index
        applied = index
        unstableFrom = index + 1
        persisted = min(persisted, index)
        checkInvariants("restore")
    }

    /// Discards entries up to and including `index` (they are covered by a snapshot).
    mutating func compact(through index: LogIndex) {
        let index = min(index, applied, persisted)
        guard index > snapshotIndex else { return }
        let t = term(at: index)!
        entries.removeFirst(Int(index - snapshotIndex))
        snapshotIndex = index
        snapshotTerm = t
        checkInvariants("compact")
    }

    /// Committed entries not yet handed to the application. They need not be durable here:
    /// committed means durable on a quorum, and no leader can ever lose them.
    func nextCommitted(maxBytes: Int) -> [Entry] {
        guard committed > applied else { return [] }
        return slice(from: applied + 1, through: committed, maxBytes: maxBytes)
    }

    var unstableEntries: [Entry] {
        guard unstableFrom <= lastIndex else { return [] }
        return slice(from: unstableFrom, through: lastIndex)
    }

    // MARK: - Invariants

    /// What the log always holds, or nil. In O(1): the ends of `entries`, not every entry.
    /// - the entries follow the snapshot without a gap, and terms never fall along the log;
    /// - snapshotIndex <= applied <= committed <= lastIndex: nothing is applied before it is
    ///   committed, and nothing compacted before it is applied;
    /// - persisted < unstableFrom <= lastIndex + 1: only entries handed out can be durable.
    func invariantViolation() -> String? {
        if let first = entries.first, let last = entries.last {
            if first.index != snapshotIndex + 1 { return "first entry \(first.index) does not follow the snapshot at \(snapshotIndex)" }
            if last.index != lastIndex { return "last entry \(last.index) is not at \(lastIndex): the entries have a gap" }
            if first.term < snapshotTerm || last.term < first.term { return "terms fall: snapshot \(snapshotTerm), first \(first.term), last \(last.term)" }
        }
        if !(snapshotIndex <= applied && applied <= committed && committed <= lastIndex) {
            return "snapshot \(snapshotIndex), applied \(applied), committed \(committed), last \(lastIndex) out of order"
        }
        if !(persisted < unstableFrom && unstableFrom <= lastIndex + 1) {
            return "persisted \(persisted), unstable from \(unstableFrom), last \(lastIndex) out of order"
        }
        return nil
    }

    /// Stops a debug build whose log broke an invariant; compiled out of release builds.
    func checkInvariants(_ after: StaticString) {
        #if DEBUG
        if let problem = invariantViolation() { preconditionFailure("RaftLog after \(after): \(problem)") }
        #endif
    }
}

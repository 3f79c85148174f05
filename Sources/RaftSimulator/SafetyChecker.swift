import MultiRaft

/// Raft's safety properties, checked for one group as the simulation runs. Every check is
/// incremental so it can run after every step.
final class SafetyChecker {
    struct RefEntry {
        var term: Term
        var fingerprint: UInt64
        var write: SimWrite?
        /// An upper bound on the term in which the entry was committed: the lowest current
        /// term of any replica seen holding it committed (the committing leader's, when seen).
        var commitTerm: Term
    }

    struct EntryKey: Hashable {
        var index: LogIndex
        var term: Term
    }

    let group: Int
    /// Election Safety: the one leader of each term.
    private var leaderOfTerm: [Term: ReplicaID] = [:]
    /// Log Matching: the hash of the whole log prefix ending at (index, term), as first seen
    /// in any replica's durable log. Two logs with the same (index, term) must agree on it.
    private var chains: [EntryKey: UInt64] = [:]
    /// The committed log as observed (ref[i - 1] is index i): State Machine Safety and
    /// "no committed entry is ever lost" compare everything against it.
    private(set) var ref: [RefEntry?] = []
    private(set) var maxCommit: LogIndex = 0

    init(group: Int) { self.group = group }

    func observeLeader(_ replica: ReplicaID, term: Term) -> String? {
        if let other = leaderOfTerm[term], other != replica {
            return "election safety: replicas \(other) and \(replica) both leader of term \(term)"
        }
        leaderOfTerm[term] = replica
        return nil
    }

    func chain(index: LogIndex, term: Term) -> UInt64? { chains[EntryKey(index: index, term: term)] }

    func observeDurable(index: LogIndex, term: Term, chain: UInt64, replica: ReplicaID) -> String? {
        let key = EntryKey(index: index, term: term)
        if let seen = chains[key] {
            if seen != chain {
                return "log matching: replica \(replica) holds entry \(index) of term \(term) with a log prefix that differs from another replica's"
            }
        } else {
            chains[key] = chain
        }
        return nil
    }

    /// Records that entry `index` is committed (seen committed, or applied) with this content.
    func observeCommitted(_ e: Entry, by replica: ReplicaID, how: String, observerTerm: Term) -> String? {
        let i = Int(e.index)
        let fp = fingerprint(e.data)
        if ref.count < i { ref.append(contentsOf: repeatElement(nil, count: i - ref.count)) }
        if let r = ref[i - 1] {
            if r.term != e.term || r.fingerprint != fp {
                return "state machine safety: replica \(replica) \(how) entry \(i) of term \(e.term), but entry \(i) of term \(r.term) was committed before (a committed entry was lost)"
            }
            ref[i - 1]!.commitTerm = min(r.commitTerm, observerTerm)
        } else {
            ref[i - 1] = RefEntry(term: e.term, fingerprint: fp, write: e.kind == .normal ? SimWrite.decode(e.data) : nil, commitTerm: observerTerm)
        }
        maxCommit = max(maxCommit, e.index)
        return nil
    }

    func noteCommitIndex(_ index: LogIndex) { maxCommit = max(maxCommit, index) }

    func refTerm(at index: LogIndex) -> Term? {
        guard index >= 1, Int(index) <= ref.count else { return nil }
        return ref[Int(index) - 1]?.term
    }

    /// Leader Completeness (§5.4): a leader of term t holds every entry committed in a term
    /// before t. (A leader of an older term may still be elected while a newer term commits;
    /// it need not hold those entries.) Entries committed before t form a prefix of the log.
    func checkLeaderCompleteness(_ core: RaftReplica) -> String? {
        var i = min(maxCommit, LogIndex(ref.count))
        while i > 0 && (ref[Int(i) - 1] == nil || ref[Int(i) - 1]!.commitTerm >= core.term) { i -= 1 }
        guard i > 0, i >= core.firstIndex else { return nil }  // older entries are in its snapshot
        let have = core.term(at: i)
        if have != refTerm(at: i) {
            return "leader completeness: replica \(core.id) became leader of term \(core.term) without committed entry \(i) (term \(refTerm(at: i)!)); it has \(have.map { "term \($0)" } ?? "nothing") there"
        }
        return nil
    }

    /// The value of `key` after applying the committed log through `index`, or nil if unset.
    /// Returns .none when the reference does not know every entry up to `index`.
    func value(of key: UInt8, at index: LogIndex) -> UInt64?? {
        var i = Int(min(index, LogIndex(ref.count)))
        while i >= 1 {
            guard let r = ref[i - 1] else { return .none }
            if let w = r.write, w.key == key { return .some(w.value) }
            i -= 1
        }
        return .some(nil)
    }
}

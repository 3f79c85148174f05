/// Majority arithmetic as pure functions: which index is committed, who won a vote.
/// A joint configuration needs a majority in both halves.
public enum Quorum {
    public enum VoteResult: Sendable, Equatable { case pending, won, lost }

    /// The largest index acknowledged by a majority of `voters`. An empty voter set imposes
    /// no constraint (`LogIndex.max`), which is what joint arithmetic needs.
    public static func committedIndex(_ voters: Set<ReplicaID>, _ acked: (ReplicaID) -> LogIndex) -> LogIndex {
        if voters.isEmpty { return .max }
        var indexes = voters.map(acked)
        indexes.sort(by: >)
        return indexes[voters.count / 2]
    }

    public static func committedIndex(_ cfg: Configuration, _ acked: (ReplicaID) -> LogIndex) -> LogIndex {
        min(committedIndex(cfg.voters, acked), committedIndex(cfg.outgoing, acked))
    }

    public static func voteResult(_ voters: Set<ReplicaID>, _ votes: [ReplicaID: Bool]) -> VoteResult {
        if voters.isEmpty { return .won }
        var granted = 0, rejected = 0
        for id in voters {
            switch votes[id] {
            case true?: granted += 1
            case false?: rejected += 1
            case nil: break
            }
        }
        let quorum = voters.count / 2 + 1
        if granted >= quorum { return .won }
        if rejected > voters.count - quorum { return .lost }
        return .pending
    }

    public static func voteResult(_ cfg: Configuration, _ votes: [ReplicaID: Bool]) -> VoteResult {
        let a = voteResult(cfg.voters, votes), b = voteResult(cfg.outgoing, votes)
        if a == .lost || b == .lost { return .lost }
        if a == .won && b == .won { return .won }
        return .pending
    }

    /// Whether `active` replicas form a quorum of `cfg`.
    public static func isQuorum(_ cfg: Configuration, _ active: Set<ReplicaID>) -> Bool {
        var votes: [ReplicaID: Bool] = [:]
        for id in cfg.allVoters { votes[id] = active.contains(id) }
        return voteResult(cfg, votes) == .won
    }
}

/// Why the core refused an input. Values, with messages an operator can act on.
public enum RaftError: Error, Sendable, Hashable, CustomStringConvertible {
    /// This replica is not the leader; `leaderHint` is the leader it knows of, or 0.
    case notLeader(leaderHint: ReplicaID)
    /// The proposal was dropped (leadership transfer in progress, replica removed, ...).
    case proposalDropped(String)
    /// A configuration change is still being applied; only one may be in flight.
    case confChangePending
    case invalidConfChange(String)
    /// The change would leave the group without a reachable quorum.
    case wouldLoseQuorum(String)

    public var description: String {
        switch self {
        case .notLeader(let hint): hint == 0 ? "not the leader (leader unknown)" : "not the leader (leader is replica \(hint))"
        case .proposalDropped(let why): "proposal dropped: \(why)"
        case .confChangePending: "a configuration change is already in progress; retry when it is applied"
        case .invalidConfChange(let why): "invalid configuration change: \(why)"
        case .wouldLoseQuorum(let why): "configuration change refused, it would lose quorum: \(why)"
        }
    }
}

/// Malformed bytes from outside (disk, network); names what was wrong.
public struct DecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

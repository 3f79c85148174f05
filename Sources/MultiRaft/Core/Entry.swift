/// One record of the replicated log.
public struct Entry: Sendable, Hashable {
    public enum Kind: UInt8, Sendable {
        /// Application data (an empty payload is the leader's no-op on election).
        case normal = 0
        /// An encoded `ConfChange`; applied by the core when the entry is applied.
        case confChange = 1
    }

    public var term: Term
    public var index: LogIndex
    public var kind: Kind
    public var data: [UInt8]

    public init(term: Term, index: LogIndex, kind: Kind = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }

    /// Approximate size used for flow control (bytes per message).
    var byteSize: Int { data.count + 24 }
}

/// What must survive a crash besides the log: the current term, the vote cast in it, and
/// the highest index known committed.
public struct HardState: Sendable, Hashable {
    public var term: Term
    public var vote: ReplicaID
    public var commit: LogIndex

    public init(term: Term = 0, vote: ReplicaID = 0, commit: LogIndex = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

/// Where a snapshot sits in the log and the membership at that point.
public struct SnapshotMetadata: Sendable, Hashable {
    public var index: LogIndex
    public var term: Term
    public var configuration: Configuration

    public init(index: LogIndex, term: Term, configuration: Configuration) {
        self.index = index
        self.term = term
        self.configuration = configuration
    }
}

/// A point-in-time image of a state machine. `data` is opaque to the core; a host that
/// streams snapshot files out of band may leave it empty and ship the file itself.
public struct Snapshot: Sendable, Hashable {
    public var metadata: SnapshotMetadata
    public var data: [UInt8]

    public init(metadata: SnapshotMetadata, data: [UInt8]) {
        self.metadata = metadata
        self.data = data
    }
}

/// A linearizable read released by the leader: reads may be served once the local state
/// machine has applied `index`.
public struct ReadState: Sendable, Hashable {
    public var index: LogIndex
    public var context: [UInt8]
}

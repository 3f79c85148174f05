/// Every knob of one Raft replica, with its default.
public struct RaftSettings: Sendable {
    /// This replica's id; never 0.
    public var id: ReplicaID
    /// Base election timeout in ticks; each replica draws its timeout from
    /// [electionTicks, 2 * electionTicks).
    public var electionTicks = 10
    /// Heartbeat interval of a leader, in ticks. Must be below `electionTicks`.
    public var heartbeatTicks = 1
    /// Run a pre-vote round before becoming a candidate, so a partitioned replica that rejoins
    /// does not disrupt a healthy leader.
    public var preVote = true
    /// A leader steps down when it has not heard from a quorum for an election timeout, and
    /// followers ignore vote requests while they hear from a leader (the leader lease).
    public var checkQuorum = true
    /// Upper bound on the bytes of entries in one append message (at least one entry is sent).
    public var maxSizePerMsg = 1 << 20
    /// Upper bound on in-flight append messages to one follower.
    public var maxInflightMsgs = 256
    /// Upper bound on in-flight append bytes to one follower (0 = no byte limit).
    public var maxInflightBytes = 0
    /// Upper bound on the bytes of committed entries handed out in one `Ready`.
    public var maxCommittedSizePerReady = 16 << 20
    /// Ticks a follower may stay in snapshot state before the leader retries the transfer.
    public var snapshotTimeoutTicks = 100
    /// Deliberate bugs for proving the checkers work. Honoured only by builds with the planted
    /// bugs compiled in (`PlantedBug.compiledIn`); ignored by every other build.
    public var plantedBugs: Set<PlantedBug> = []

    public init(id: ReplicaID) { self.id = id }
}

/// Failpoints that break a Raft rule on purpose, so the simulator and the fault suite can be
/// shown to catch the violation.
public enum PlantedBug: String, Sendable, CaseIterable {
    /// The leader commits an entry of an earlier term by counting replicas (Raft §5.4.2).
    case commitPreviousTerm = "commit-previous-term"
    /// A vote is sent without being persisted first.
    case forgetVote = "forget-vote"
    /// ReadIndex is answered without confirming leadership with a quorum.
    case staleRead = "stale-read"

    /// Whether this build carries the planted bugs' hooks. They are compiled in only with
    /// `MYSTORE_PLANTED_BUGS`, which debug builds (tests) and the fault-testing build
    /// (`scripts/fault-test`, `scripts/fuzz`) define; a release build has none of them, and
    /// the checks for them are constant false on its production paths.
    public static var compiledIn: Bool {
        #if MYSTORE_PLANTED_BUGS
        true
        #else
        false
        #endif
    }
}

/// The membership of one Raft group. In joint consensus `outgoing` holds the previous voter
/// set and decisions need a majority of both `voters` and `outgoing`.
public struct Configuration: Sendable, Hashable {
    /// The (incoming) voters.
    public var voters: Set<ReplicaID> = []
    /// The outgoing voters while in a joint configuration; empty otherwise.
    public var outgoing: Set<ReplicaID> = []
    /// Non-voting members that receive the log.
    public var learners: Set<ReplicaID> = []
    /// Voters being demoted to learners; they become learners when the joint config is left.
    public var learnersNext: Set<ReplicaID> = []
    /// Leave the joint configuration automatically once it is applied.
    public var autoLeave: Bool = false
    /// Ids that were members once and left; they are never admitted again.
    public var retired: Set<ReplicaID> = []

    public init(voters: Set<ReplicaID> = [], learners: Set<ReplicaID> = []) {
        self.voters = voters
        self.learners = learners
    }

    public var isJoint: Bool { !outgoing.isEmpty }
    /// Every replica that receives the log.
    public var members: Set<ReplicaID> { voters.union(outgoing).union(learners).union(learnersNext) }
    /// Every replica whose vote or acknowledgement counts.
    public var allVoters: Set<ReplicaID> { voters.union(outgoing) }
    /// Whether `id` is in `members`, without building the union.
    public func isMember(_ id: ReplicaID) -> Bool {
        voters.contains(id) || outgoing.contains(id) || learners.contains(id) || learnersNext.contains(id)
    }
    public func isVoter(_ id: ReplicaID) -> Bool { voters.contains(id) || outgoing.contains(id) }
}

import MultiRaft

/// The next step of one replica move, decided from the shard's Raft group as its leader
/// reports it: pure, so every case is a unit test, and a move interrupted by a crash or a new
/// meta leader resumes from wherever the group stands. `Rebalancer` carries the actions out.
///
/// A move goes: add the new replica as a learner → it catches up (snapshot, then log) →
/// promote it → hand leadership away if the old replica leads → remove the old replica →
/// record the new layout. Abandoning one (a learner that stalls) removes the new replica, then
/// drops the move from the queue.
enum MoveStep {
    /// What the rebalancer does now for a move.
    enum Action: Equatable, Sendable {
        /// Nothing this tick: the move waits for the group (the stage says for what).
        case wait
        case addLearner(ReplicaID)
        /// The caught-up learner becomes a voter.
        case promote(ReplicaID)
        /// The old replica leads: hand leadership to this caught-up voter first.
        case transfer(to: ReplicaID)
        /// Remove a replica from the group: the old one once the new one votes, or the new one
        /// when the move is abandoned.
        case remove(ReplicaID)
        /// The group has its new layout: record it in the meta group.
        case finish
        /// Drop the move from the meta group's queue (abandoned, or nothing left to move).
        case abort
        /// The learner made no progress for too long: start abandoning the move.
        case abandon
    }

    /// How a move's learner has been catching up: its match index and when it last grew.
    struct CatchUp: Equatable, Sendable {
        var match: LogIndex
        var since: Double
    }

    /// A decision: the action, the stage to show for the move (nil: leave it as it is), and the
    /// catch-up record to keep (nil: none).
    struct Decision: Equatable, Sendable {
        var action: Action
        var stage: String?
        var catchUp: CatchUp?
    }

    /// The next step of `move`. `progress` is the group's leader's view (nil: no leader
    /// reachable); `aborting` says the move is being abandoned; `catchUp` is the record the
    /// previous decision kept; a learner whose match has not grown for `stallSeconds` is
    /// abandoned.
    static func next(move: MetaState.Move, progress: ReplicaProgress?, aborting: Bool, catchUp: CatchUp?, now: Double,
                     stallSeconds: Double) -> Decision {
        guard let p = progress else { return Decision(action: .wait, stage: "waiting for a leader", catchUp: catchUp) }
        if p.isJoint { return Decision(action: .wait, stage: "leaving a joint configuration", catchUp: catchUp) }
        let voters = Set(p.voters), learners = Set(p.learners)
        let newIsMember = voters.contains(move.replica) || learners.contains(move.replica)
        if aborting {
            if newIsMember { return Decision(action: .remove(move.replica), stage: "abandoning: removing the new replica", catchUp: catchUp) }
            return Decision(action: .abort, stage: nil, catchUp: nil)
        }
        if !newIsMember {
            // The source left the group by other means: nothing to move any more.
            guard voters.contains(move.fromReplica) else { return Decision(action: .abort, stage: nil, catchUp: nil) }
            return Decision(action: .addLearner(move.replica), stage: "adding a learner on node \(move.to)", catchUp: CatchUp(match: 0, since: now))
        }
        if learners.contains(move.replica) {
            let match = p.match[move.replica] ?? 0
            if p.active.contains(move.replica) && match >= p.commitIndex {
                return Decision(action: .promote(move.replica), stage: "promoting the new replica", catchUp: catchUp)
            }
            guard let last = catchUp, match <= last.match else {
                return catchingUp(p, move, CatchUp(match: match, since: now))
            }
            if now - last.since > stallSeconds { return Decision(action: .abandon, stage: nil, catchUp: last) }
            return catchingUp(p, move, last)
        }
        // The new replica votes.
        if voters.contains(move.fromReplica) || learners.contains(move.fromReplica) {
            if p.leader == move.fromReplica {
                // Leadership goes to a caught-up voter, the new replica first; never to a lagging one.
                let target = p.voters.filter { $0 != move.fromReplica && p.active.contains($0) && (p.match[$0] ?? 0) >= p.lastIndex }
                    .min { ($0 == move.replica ? 0 : 1, $0) < ($1 == move.replica ? 0 : 1, $1) }
                return Decision(action: target.map { .transfer(to: $0) } ?? .wait, stage: "moving leadership off node \(move.from)", catchUp: catchUp)
            }
            return Decision(action: .remove(move.fromReplica), stage: "removing the old replica on node \(move.from)", catchUp: catchUp)
        }
        return Decision(action: .finish, stage: "recording the new layout", catchUp: catchUp)
    }

    private static func catchingUp(_ p: ReplicaProgress, _ move: MetaState.Move, _ record: CatchUp) -> Decision {
        let what = p.snapshotting.contains(move.replica) ? "receiving a snapshot" : "catching up"
        return Decision(action: .wait, stage: "\(what) (\(record.match)/\(p.commitIndex))", catchUp: record)
    }
}

/// The meta group's own membership, one change at a time, decided from its leader's view:
/// every node that is not removed holds a meta replica (replica id = node id), and up to
/// `maxVoters` active nodes vote. Pure; `Rebalancer` carries the change out.
enum MetaMembership {
    enum Action: Equatable, Sendable {
        case none
        /// A membership change, with what it does in words (for the log).
        case change(ConfChange, String)
        /// This node is leaving: hand the meta leadership to a caught-up active voter.
        case transfer(to: ReplicaID)
    }

    static func next(progress p: ReplicaProgress, nodes: [NodeID: MetaState.Node], me: NodeID, maxVoters: Int) -> Action {
        guard !p.isJoint else { return .none }
        let members = Set(p.voters).union(p.learners)
        let active = nodes.values.filter { $0.state == .active }
        let target = min(maxVoters, active.count)
        // A meta replica's id is its node's id.
        let state: (ReplicaID) -> MetaState.NodeState? = { nodes[NodeID($0)]?.state }
        let activeVoters = p.voters.filter { state($0) == .active }
        let caughtUp: (ReplicaID) -> Bool = { r in p.active.contains(r) && (p.match[r] ?? 0) >= p.commitIndex }
        if let n = nodes.values.filter({ $0.state != .removed && !members.contains(ReplicaID($0.id)) }).map(\.id).min() {
            return .change(.addLearner(ReplicaID(n)), "add node \(n) as a learner")
        }
        if activeVoters.count < target, let n = p.learners.filter({ state($0) == .active && caughtUp($0) }).min() {
            return .change(.addVoter(n), "promote node \(n)")
        }
        if nodes[me]?.state != .active, activeVoters.count >= target, let successor = activeVoters.first(where: caughtUp) {
            return .transfer(to: successor)
        }
        let leaving = p.voters.filter { state($0) != .active }
        if let n = (leaving + p.learners).first(where: { state($0) == .removed || state($0) == nil }), NodeID(n) != me {
            return .change(.remove(n), "remove node \(n)")
        }
        return .none
    }
}

import MultiRaft
import ShardRouter
import Testing
@testable import Server

/// The rebalancer's decisions as pure functions: a replica move's next step, and the meta
/// group's next membership change, over the group states they meet.
@Suite("Rebalance steps")
struct RebalanceStepTests {
    /// Shard 4 moves from node 1 (replica 1) to node 4 (new replica 9).
    static let move = MetaState.Move(shard: ShardID(rawValue: 4), from: 1, to: 4, fromReplica: 1, replica: 9)

    static func group(leader: ReplicaID = 1, voters: [ReplicaID] = [1, 2, 3], learners: [ReplicaID] = [], joint: Bool = false,
                      commit: LogIndex = 100, last: LogIndex = 100, match: [ReplicaID: LogIndex] = [:],
                      active: Set<ReplicaID>? = nil, snapshotting: Set<ReplicaID> = []) -> ReplicaProgress {
        var m: [ReplicaID: LogIndex] = [:]
        for r in voters + learners { m[r] = match[r] ?? last }
        return ReplicaProgress(leader: leader, term: 3, lastIndex: last, commitIndex: commit, voters: voters, learners: learners,
                               isJoint: joint, match: m, active: active ?? Set(voters + learners), snapshotting: snapshotting)
    }

    static func next(_ p: ReplicaProgress?, aborting: Bool = false, catchUp: MoveStep.CatchUp? = nil, now: Double = 1_000) -> MoveStep.Decision {
        MoveStep.next(move: move, progress: p, aborting: aborting, catchUp: catchUp, now: now, stallSeconds: 120)
    }

    @Test func aMoveWalksThroughItsSteps() {
        // No leader reachable, or a joint configuration in the way: wait.
        #expect(Self.next(nil) == .init(action: .wait, stage: "waiting for a leader", catchUp: nil))
        #expect(Self.next(Self.group(joint: true)).action == .wait)
        // The new replica is not in the group: add it as a learner, and start its catch-up clock.
        let added = Self.next(Self.group())
        #expect(added == .init(action: .addLearner(9), stage: "adding a learner on node 4", catchUp: .init(match: 0, since: 1_000)))
        // A learner still behind: wait, showing how far it is (snapshot first).
        let behind = Self.next(Self.group(learners: [9], match: [9: 0], snapshotting: [9]), catchUp: added.catchUp)
        #expect(behind.action == .wait)
        #expect(behind.stage == "receiving a snapshot (0/100)")
        // Caught up and active: promote it.
        #expect(Self.next(Self.group(learners: [9]), catchUp: added.catchUp).action == .promote(9))
        // It votes and the old replica leads: leadership goes to the new replica first.
        #expect(Self.next(Self.group(leader: 1, voters: [1, 2, 3, 9])).action == .transfer(to: 9))
        // Someone else leads: remove the old replica.
        #expect(Self.next(Self.group(leader: 2, voters: [1, 2, 3, 9])) == .init(action: .remove(1), stage: "removing the old replica on node 1", catchUp: nil))
        // The old replica is gone: record the new layout.
        #expect(Self.next(Self.group(leader: 2, voters: [2, 3, 9])).action == .finish)
    }

    @Test func leadershipGoesOnlyToACaughtUpVoter() {
        // The new replica lags, voter 2 is caught up: 2 gets it.
        #expect(Self.next(Self.group(leader: 1, voters: [1, 2, 3, 9], match: [9: 50, 3: 50])).action == .transfer(to: 2))
        // Nobody else is caught up (or active): wait, never hand leadership to a lagging replica.
        let lagging = Self.group(leader: 1, voters: [1, 2, 3, 9], match: [2: 10, 3: 10, 9: 10])
        #expect(Self.next(lagging) == .init(action: .wait, stage: "moving leadership off node 1", catchUp: nil))
        #expect(Self.next(Self.group(leader: 1, voters: [1, 2, 9], active: [1])).action == .wait)
    }

    @Test func aStalledLearnerIsAbandonedThenRemoved() {
        let start = MoveStep.CatchUp(match: 40, since: 1_000)
        let progressing = Self.group(learners: [9], match: [9: 41])
        // Progress resets the clock.
        #expect(Self.next(progressing, catchUp: start, now: 1_500).catchUp == .init(match: 41, since: 1_500))
        // No progress for under the bound: keep waiting, keep the clock.
        let stuck = Self.group(learners: [9], match: [9: 40])
        #expect(Self.next(stuck, catchUp: start, now: 1_100) == .init(action: .wait, stage: "catching up (40/100)", catchUp: start))
        // No progress for longer than the bound: abandon.
        #expect(Self.next(stuck, catchUp: start, now: 1_121).action == .abandon)
        // Abandoning: remove the new replica while it is a member, then drop the move.
        #expect(Self.next(stuck, aborting: true).action == .remove(9))
        #expect(Self.next(Self.group(), aborting: true) == .init(action: .abort, stage: nil, catchUp: nil))
    }

    @Test func aMoveWhoseSourceLeftIsDropped() {
        // The old replica left the group by other means before the learner was added.
        #expect(Self.next(Self.group(voters: [2, 3, 5])).action == .abort)
    }

    // MARK: - Meta group membership

    static func nodes(_ states: [NodeID: MetaState.NodeState]) -> [NodeID: MetaState.Node] {
        var out: [NodeID: MetaState.Node] = [:]
        for (id, st) in states { out[id] = MetaState.Node(id: id, address: NodeAddress(host: "10.0.0.\(id)", port: 7000)!, state: st) }
        return out
    }

    @Test func metaMembershipAddsPromotesHandsOverAndRemoves() {
        // A registered node without a meta replica becomes a learner.
        #expect(MetaMembership.next(progress: Self.group(), nodes: Self.nodes([1: .active, 2: .active, 3: .active, 4: .active]), me: 1, maxVoters: 5)
            == .change(.addLearner(4), "add node 4 as a learner"))
        // A caught-up learner is promoted while there are fewer voters than the target; a lagging one is not.
        let four = Self.nodes([1: .active, 2: .active, 3: .active, 4: .active])
        #expect(MetaMembership.next(progress: Self.group(learners: [4]), nodes: four, me: 1, maxVoters: 5) == .change(.addVoter(4), "promote node 4"))
        #expect(MetaMembership.next(progress: Self.group(learners: [4], match: [4: 10]), nodes: four, me: 1, maxVoters: 5) == .none)
        #expect(MetaMembership.next(progress: Self.group(learners: [4]), nodes: four, me: 1, maxVoters: 3) == .none)
        // The leader's own node is draining: it hands the meta leadership to a caught-up active voter.
        let draining = Self.nodes([1: .draining, 2: .active, 3: .active])
        #expect(MetaMembership.next(progress: Self.group(), nodes: draining, me: 1, maxVoters: 2) == .transfer(to: 2))
        // A removed node's replica is removed (by a leader on another node).
        let removed = Self.nodes([1: .removed, 2: .active, 3: .active])
        #expect(MetaMembership.next(progress: Self.group(leader: 2), nodes: removed, me: 2, maxVoters: 5) == .change(.remove(1), "remove node 1"))
        // Nothing during a joint configuration.
        #expect(MetaMembership.next(progress: Self.group(joint: true), nodes: four, me: 1, maxVoters: 5) == .none)
    }

    @Test func groupOperationsRoundTripAsPeerFrames() throws {
        let p = Self.group(leader: 2, voters: [1, 2, 3], learners: [9], match: [9: 7], active: [1, 2], snapshotting: [9])
        for frame in [PeerFrame.groupRequest(id: 5, group: 4, op: .progress), .groupRequest(id: 6, group: 4, op: .confChange(.remove(3))),
                      .groupRequest(id: 7, group: 0, op: .transfer(2)), .groupReply(id: 5, result: .progress(p)),
                      .groupReply(id: 6, result: .done), .groupReply(id: 7, result: .failed("not the leader"))] {
            let decoded = try PeerFrame.decode(body: Array(frame.encoded().dropFirst(8)))
            switch (frame, decoded) {
            case (.groupRequest(let a, let g, let op), .groupRequest(let b, let h, let op2)):
                #expect(a == b && g == h && op == op2)
            case (.groupReply(let a, let r), .groupReply(let b, let r2)):
                #expect(a == b)
                switch (r, r2) {
                case (.progress(let x), .progress(let y)):
                    #expect(x.leader == y.leader && x.voters == y.voters && x.learners == y.learners && x.match == y.match
                        && x.active == y.active && x.snapshotting == y.snapshotting && x.commitIndex == y.commitIndex)
                case (.done, .done): break
                case (.failed(let x), .failed(let y)): #expect(x == y)
                default: Issue.record("\(r) decoded as \(r2)")
                }
            default:
                Issue.record("\(frame) decoded as \(decoded)")
            }
        }
        // A frame claiming a huge member list is refused, not allocated.
        var w = BinaryWriter()
        w.write(UInt8(10)); w.write(UInt64(1)); w.write(UInt8(0))
        for _ in 0..<4 { w.write(UInt64(1)) }
        w.write(UInt8(0)); w.write(UInt32(0x7FFF_FFFF))
        #expect(throws: DecodeError.self) { try PeerFrame.decode(body: w.bytes) }
    }
}

import Testing
@testable import MultiRaft

/// Scenario tests: each reads as a short story about a 3-replica group (bootstrapped with
/// voters 1, 2, 3 at term 1, log indexes 1-3 holding the initial configuration).
@Suite struct ScenarioTests {
    // §5.2: a replica whose timeout fires wins a pre-vote, then the election, and commits a
    // no-op of its term so everything before it is known committed.
    @Test func election() {
        var c = TestCluster(voters: [1, 2, 3])
        #expect(c.leaders.isEmpty)
        c.campaign(1)
        #expect(c.leaders == [1])
        #expect(c[1].term == 2)
        for id: ReplicaID in [2, 3] {
            #expect(c[id].leader == 1)
            #expect(c[id].term == 2)
        }
        for id: ReplicaID in [1, 2, 3] { #expect(c[id].commitIndex == 4, "bootstrap entries + the leader's no-op") }
        #expect(c.propose(2, "via follower").error == nil)
        for id: ReplicaID in [1, 2, 3] { #expect(c.member(id).applied == ["via follower"]) }
    }

    // Two candidates split a 4-replica group 2:2; nobody wins that term; randomized
    // timeouts elect exactly one leader later.
    @Test func splitVote() {
        var c = TestCluster(voters: [1, 2, 3, 4]) { $0.preVote = false }
        c.cut = [[1, 4], [2, 3]]  // 3 hears only 1, 4 hears only 2
        c.members[1]!.core.campaign(preVote: false, transfer: false)
        c.members[2]!.core.campaign(preVote: false, transfer: false)
        c.stabilize()
        #expect(c.leaders.isEmpty)
        #expect(c[1].role == .candidate && c[2].role == .candidate)
        #expect(c[1].term == 2 && c[2].term == 2)
        c.heal()
        for _ in 0..<60 where c.leaders.isEmpty { c.tickAll(1) }
        #expect(c.leaders.count == 1)
        #expect(c[c.leaders[0]].term >= 3)
    }

    // Thesis §9.6: a replica cut off from the others keeps timing out, but pre-vote stops it
    // from raising its term, so when it rejoins the healthy leader stays.
    @Test func partitionedReplicaRejoinsWithoutDisruption() {
        var c = TestCluster(voters: [1, 2, 3])
        c.campaign(1)
        c.isolate(3)
        for _ in 0..<50 { c.tick(3); c.stabilize() }
        #expect(c[3].term == 2, "pre-vote never raises the term")
        #expect(c[3].role == .preCandidate)
        c.heal()
        c.tickAll(3)
        #expect(c.leaders == [1])
        #expect(c[1].term == 2)
        #expect(c[3].leader == 1)
    }

    // Without pre-vote and check-quorum, the same story deposes the leader: this is what the
    // two features prevent.
    @Test func withoutPreVoteRejoiningReplicaDisruptsLeader() {
        var c = TestCluster(voters: [1, 2, 3]) { $0.preVote = false; $0.checkQuorum = false }
        c.campaign(1)
        c.isolate(3)
        for _ in 0..<50 { c.tick(3); c.stabilize() }
        #expect(c[3].term > 2)
        c.heal()
        for _ in 0..<30 where c[1].term == 2 { c.tickAll(1) }
        #expect(c[1].term > 2, "the old leader was forced out of term 2 by the returning replica")
    }

    // Check-quorum: a leader that hears from no quorum for an election timeout steps down,
    // so it stops accepting writes it can never commit.
    @Test func leaderStepsDownWithoutQuorum() {
        var c = TestCluster(voters: [1, 2, 3])
        c.campaign(1)
        c.isolate(1)
        c.tick(1, times: 9)
        #expect(c[1].role == .leader)
        c.tick(1)
        #expect(c[1].role == .follower)
        #expect(c.propose(1, "x").error == .notLeader(leaderHint: 0))
    }

    // §5.3: a deposed leader holds uncommitted entries of its old term; the new leader
    // overwrites them, and fast backtracking skips the whole conflicting term at once.
    @Test func divergentFollowerLogIsRepaired() {
        var c = TestCluster(voters: [1, 2, 3])
        c.campaign(1)
        c.isolate(1)
        for i in 0..<20 { _ = c.propose(1, "stale \(i)") }
        #expect(c[1].lastIndex == 24)
        for _ in 0..<40 where c.leaders.filter({ $0 != 1 }).isEmpty {
            c.tick(2); c.tick(3); c.stabilize()
        }
        let newLeader = c.leaders.first { $0 != 1 }!
        #expect(c.propose(newLeader, "x").error == nil)
        #expect(c.propose(newLeader, "y").error == nil)
        c.heal()
        c.delivered = []
        c.tickAll(2)
        #expect(c[1].role == .follower)
        #expect(c.member(1).applied == ["x", "y"])
        #expect(c[1].lastIndex == c[newLeader].lastIndex)
        let rejections = c.delivered.filter { $0.kind == .appendResponse && $0.reject && $0.from == 1 }
        #expect(rejections.count <= 2, "one rejection per conflicting term, not one per entry")
    }

    // A follower that was away while the leader compacted its log catches up through a
    // snapshot, then through the log again.
    @Test func followerBehindCompactionReceivesSnapshot() {
        var c = TestCluster(voters: [1, 2, 3])
        c.campaign(1)
        c.down = [3]
        for i in 0..<10 { _ = c.propose(1, "v\(i)") }
        let data = Array(c.member(1).applied.joined(separator: ",").utf8)
        let snap = c.members[1]!.core.createSnapshot(data: data)
        c.members[1]!.core.compact(through: snap.metadata.index)
        #expect(c[1].firstIndex == snap.metadata.index + 1)
        c.down = []
        c.tickAll(2)
        let installed = c.member(3).stored.snapshot
        #expect(installed?.metadata.index == snap.metadata.index)
        #expect(installed?.data == data)
        #expect(c[3].commitIndex == c[1].commitIndex)
        _ = c.propose(1, "after")
        #expect(c.member(3).applied.last == "after")
    }

    // Transfer goes to a caught-up follower at once (TimeoutNow) ...
    @Test func leadershipTransfer() {
        var c = TestCluster(voters: [1, 2, 3])
        c.campaign(1)
        c.members[1]!.core.transferLeadership(to: 2)
        c.stabilize()
        #expect(c.leaders == [2])
        #expect(c[2].term == 3)
        #expect(c[1].leader == 2)
    }

    // ... and to a lagging one only after it has caught up; proposals wait meanwhile.
    @Test func leadershipTransferWaitsForLaggingFollower() {
        var c = TestCluster(voters: [1, 2, 3])
        c.campaign(1)
        c.isolate(3)
        _ = c.propose(1, "a")
        c.members[1]!.core.transferLeadership(to: 3)
        c.stabilize()
        #expect(c.leaders == [1])
        #expect(c[1].leadTransferee == 3)
        #expect(!c.delivered.contains { $0.kind == .timeoutNow })
        if case .failure(.proposalDropped) = c.propose(1, "during transfer") {} else { Issue.record("proposal accepted during transfer") }
        c.heal()
        c.tickAll(1)
        #expect(c.leaders == [3])
        #expect(c.member(3).applied == ["a"])
    }

    // A learner receives the log without voting; once caught up it is promoted.
    @Test func learnerCatchesUpAndIsPromoted() {
        var c = TestCluster(voters: [1, 2, 3])
        c.campaign(1)
        _ = c.propose(1, "before")
        c.add(4)
        #expect(c.members[1]!.core.proposeConfChange(.addLearner(4)).error == nil)
        c.stabilize()
        c.tickAll(1)
        #expect(c[4].configuration.learners == [4])
        #expect(!c[4].isPromotable)
        #expect(c.member(4).applied == ["before"])
        c.members[4]!.core.campaign(preVote: true, transfer: false)
        #expect(c[4].role == .follower, "a learner never campaigns")
        #expect(c.members[1]!.core.proposeConfChange(.addVoter(4)).error == nil)
        c.stabilize()
        #expect(c[1].configuration.voters == [1, 2, 3, 4])
        #expect(c[4].isPromotable)
    }

    // The leader removes itself: once the change is applied it hands over and steps down.
    @Test func removingTheLeaderItself() {
        var c = TestCluster(voters: [1, 2, 3])
        c.campaign(1)
        #expect(c.members[1]!.core.proposeConfChange(.remove(1)).error == nil)
        c.stabilize()
        #expect(c[1].role == .follower)
        #expect(!c[1].isPromotable)
        for _ in 0..<40 where c.leaders.isEmpty { c.tickAll(1) }
        let leader = c.leaders.first!
        #expect(leader != 1)
        #expect(c[leader].configuration.voters == [2, 3])
        _ = c.propose(leader, "after removal")
        #expect(c.member(2).applied == ["after removal"] && c.member(3).applied == ["after removal"])
    }

    // Joint consensus replaces a voter in one step and leaves the joint config by itself.
    @Test func jointConsensusReplacesVoter() {
        var c = TestCluster(voters: [1, 2, 3])
        c.campaign(1)
        c.add(4)
        let cc = ConfChange([.init(.remove, 3), .init(.addVoter, 4)])
        #expect(c.members[1]!.core.proposeConfChange(cc).error == nil)
        c.stabilize()
        c.tickAll(2)
        let cfg = c[1].configuration
        #expect(cfg.voters == [1, 2, 4])
        #expect(!cfg.isJoint)
        #expect(cfg.retired == [3])
    }

    // Changes that would lose quorum, and reuse of a retired id, are refused.
    @Test func unsafeMembershipChangesAreRefused() {
        var c = TestCluster(voters: [1, 2, 3])
        c.campaign(1)
        c.down = [3]
        c.tickAll(12)  // 3 is no longer recently active
        if case .failure(.wouldLoseQuorum) = c.members[1]!.core.proposeConfChange(.remove(2)) {} else {
            Issue.record("removing a live voter while another is down must be refused")
        }
        #expect(c.members[1]!.core.proposeConfChange(.remove(3)).error == nil)
        c.stabilize()
        #expect(c[1].configuration.voters == [1, 2])
        if case .failure(.invalidConfChange(let why)) = c.members[1]!.core.proposeConfChange(.addLearner(3)) {
            #expect(why.contains("cannot be reused"))
        } else {
            Issue.record("a retired replica id was admitted again")
        }
        #expect(c.members[2]!.core.proposeConfChange(.addVoter(9)).error == .notLeader(leaderHint: 1))
    }

    // ReadIndex: the leader answers after a heartbeat round confirms it still leads; an
    // isolated leader cannot confirm and never answers (unless the planted bug is on).
    @Test(arguments: [false, true])
    func readIndexNeedsQuorum(plantStaleRead: Bool) {
        var c = TestCluster(voters: [1, 2, 3]) { if plantStaleRead { $0.plantedBugs = [.staleRead] } }
        c.campaign(1)
        _ = c.members[1]!.core.readIndex([1])
        c.stabilize()
        #expect(c.member(1).readStates == [ReadState(index: 4, context: [1])])
        _ = c.members[2]!.core.readIndex([2])
        c.stabilize()
        #expect(c.member(2).readStates == [ReadState(index: 4, context: [2])], "forwarded to the leader")
        c.isolate(1)
        _ = c.members[1]!.core.readIndex([3])
        c.stabilize()
        #expect(c.member(1).readStates.count == (plantStaleRead ? 2 : 1))
    }

    // A crash loses only what was not persisted; a restarted replica rejoins and catches up.
    @Test func restartRecoversFromStorage() {
        var c = TestCluster(voters: [1, 2, 3])
        c.campaign(1)
        _ = c.propose(1, "a")
        c.restart(2)
        #expect(c[2].term == 2)
        #expect(c[2].vote == 1)
        c.tickAll(3)
        _ = c.propose(1, "b")
        #expect(c.member(2).applied == ["a", "b"])
    }
}

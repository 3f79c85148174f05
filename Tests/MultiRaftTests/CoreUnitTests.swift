import Testing
@testable import MultiRaft

@Suite struct QuorumTests {
    @Test func committedIndexIsTheMajorityMatch() {
        let match: [ReplicaID: LogIndex] = [1: 10, 2: 7, 3: 3]
        #expect(Quorum.committedIndex([1, 2, 3]) { match[$0] ?? 0 } == 7)
        #expect(Quorum.committedIndex([1, 2, 3, 4]) { match[$0] ?? 0 } == 3)
        var joint = Configuration(voters: [1, 2])
        joint.outgoing = [2, 3]
        #expect(Quorum.committedIndex(joint) { match[$0] ?? 0 } == 3, "both halves must agree")
    }

    @Test func voteResults() {
        #expect(Quorum.voteResult([1, 2, 3], [1: true, 2: true]) == .won)
        #expect(Quorum.voteResult([1, 2, 3], [1: true, 2: false]) == .pending)
        #expect(Quorum.voteResult([1, 2, 3], [1: true, 2: false, 3: false]) == .lost)
        var joint = Configuration(voters: [1, 2, 3])
        joint.outgoing = [3, 4, 5]
        #expect(Quorum.voteResult(joint, [1: true, 2: true]) == .pending)
        #expect(Quorum.voteResult(joint, [1: true, 2: true, 3: true, 4: true]) == .won)
        #expect(Quorum.voteResult(joint, [4: false, 5: false]) == .lost)
    }
}

@Suite struct ConfChangeTests {
    @Test func simpleChangeOfOneVoter() throws {
        let cfg = Configuration(voters: [1, 2, 3])
        let next = try ConfChanger.apply(.addVoter(4), to: cfg).get()
        #expect(next.voters == [1, 2, 3, 4] && !next.isJoint)
    }

    @Test func twoVotersAtOnceNeedJointConsensus() throws {
        let cfg = Configuration(voters: [1, 2, 3])
        let cc = ConfChange([.init(.addVoter, 4), .init(.remove, 1)])
        let joint = try ConfChanger.apply(cc, to: cfg).get()
        #expect(joint.isJoint && joint.outgoing == [1, 2, 3] && joint.voters == [2, 3, 4] && joint.autoLeave)
        let left = try ConfChanger.apply(.leaveJoint, to: joint).get()
        #expect(!left.isJoint && left.voters == [2, 3, 4] && left.retired == [1])
        #expect(throws: RaftError.self) { try ConfChanger.apply(.addVoter(5), to: joint).get() }
    }

    @Test func demotedVoterBecomesLearnerWhenJointIsLeft() throws {
        let cfg = Configuration(voters: [1, 2, 3])
        let joint = try ConfChanger.apply(ConfChange([.init(.addLearner, 3)], transition: .jointExplicit), to: cfg).get()
        #expect(joint.learnersNext == [3] && joint.outgoing.contains(3) && !joint.autoLeave)
        let left = try ConfChanger.apply(.leaveJoint, to: joint).get()
        #expect(left.learners == [3] && left.voters == [1, 2])
    }

    @Test func refusesEmptyVotersAndReusedIDs() {
        #expect(throws: RaftError.self) { try ConfChanger.apply(.remove(1), to: Configuration(voters: [1])).get() }
        var cfg = Configuration(voters: [1, 2])
        cfg.retired = [7]
        #expect(throws: RaftError.self) { try ConfChanger.apply(.addLearner(7), to: cfg).get() }
    }

    @Test func encodingRoundTripsAndGarbageIsAnError() throws {
        let cc = ConfChange([.init(.addVoter, 4), .init(.remove, 1)], transition: .jointExplicit)
        #expect(try ConfChange.decode(cc.encoded()) == cc)
        var rng = SplitMix64(seed: 42)
        for _ in 0..<2_000 {
            let bytes = (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? ConfChange.decode(bytes)  // must not crash
        }
        #expect(throws: DecodeError.self) { try ConfChange.decode([0, 255, 255, 255, 255]) }
    }
}

@Suite struct RaftLogTests {
    func log(terms: [Term]) -> RaftLog {
        RaftLog(snapshotIndex: 0, snapshotTerm: 0,
                entries: terms.enumerated().map { Entry(term: $1, index: LogIndex($0 + 1)) }, committed: 0)
    }

    @Test func findConflictByTermSkipsWholeTerms() {
        let l = log(terms: [1, 1, 2, 2, 2, 5, 5])
        #expect(l.findConflictByTerm(7, 4) == (5, 2))
        #expect(l.findConflictByTerm(7, 1) == (2, 1))
        #expect(l.findConflictByTerm(3, 9) == (3, 2))
    }

    @Test func appendTruncatesConflictsButNeverCommittedEntries() {
        var l = log(terms: [1, 1, 2])
        l.commit(to: 2)
        #expect(l.maybeAppend(prevIndex: 2, prevTerm: 1, commit: 3, entries: [Entry(term: 3, index: 3)]) == 3)
        #expect(l.term(at: 3) == 3 && l.committed == 3)
        #expect(l.maybeAppend(prevIndex: 1, prevTerm: 1, commit: 3, entries: [Entry(term: 9, index: 2)]) == nil,
                "rewriting a committed entry is refused")
        #expect(l.maybeAppend(prevIndex: 3, prevTerm: 2, commit: 3, entries: []) == nil, "prev term mismatch")
    }

    @Test func compactionKeepsTermOfLastCompactedEntry() {
        var l = log(terms: [1, 1, 2, 2])
        l.commit(to: 4)
        l.applied = 3
        l.compact(through: 3)
        #expect(l.firstIndex == 4 && l.term(at: 3) == 2 && l.term(at: 2) == nil)
        #expect(l.slice(from: 1, through: 4).isEmpty)
    }
}

@Suite struct InflightsTests {
    @Test func windowFillsAndFrees() {
        var f = Inflights(capacity: 3, maxBytes: 0)
        f.add(5, bytes: 10); f.add(7, bytes: 10); f.add(9, bytes: 10)
        #expect(f.isFull)
        f.freeLE(7)
        #expect(f.count == 1 && !f.isFull)
        var b = Inflights(capacity: 100, maxBytes: 25)
        b.add(1, bytes: 20)
        #expect(!b.isFull)
        b.add(2, bytes: 20)
        #expect(b.isFull)
    }
}

/// The invariant checks find what they are there for: each case breaks one rule on purpose.
@Suite struct InvariantTests {
    func log() -> RaftLog {
        RaftLog(snapshotIndex: 3, snapshotTerm: 1, entries: [Entry(term: 1, index: 4, kind: .normal, data: []),
                                                             Entry(term: 2, index: 5, kind: .normal, data: [])], committed: 4)
    }

    @Test func aHealthyLogAndProgressPass() {
        #expect(log().invariantViolation() == nil)
        var pr = Progress(next: 6, maxInflight: 4, maxInflightBytes: 0, isLearner: false)
        #expect(pr.invariantViolation() == nil)
        pr.becomeReplicate()
        pr.sentEntries(count: 1, last: 6, bytes: 10)
        #expect(pr.invariantViolation() == nil)
    }

    @Test func brokenLogsAreNamed() {
        var l = log()
        l.applied = 5  // applied beyond committed
        #expect(l.invariantViolation()?.contains("applied 5, committed 4") == true)
        l = log()
        l.persisted = 6  // durable beyond what was handed out
        #expect(l.invariantViolation()?.contains("persisted 6") == true)
        let gap = RaftLog(snapshotIndex: 3, snapshotTerm: 1, entries: [Entry(term: 1, index: 4, kind: .normal, data: []),
                                                                       Entry(term: 1, index: 6, kind: .normal, data: [])], committed: 4)
        #expect(gap.invariantViolation()?.contains("gap") == true)
        let falling = RaftLog(snapshotIndex: 3, snapshotTerm: 3, entries: [Entry(term: 2, index: 4, kind: .normal, data: [])], committed: 3)
        #expect(falling.invariantViolation()?.contains("terms fall") == true)
    }

    @Test func brokenProgressIsNamed() {
        var pr = Progress(next: 6, maxInflight: 4, maxInflightBytes: 0, isLearner: false)
        pr.match = 6
        #expect(pr.invariantViolation()?.contains("next 6 is not beyond match 6") == true)
        pr = Progress(next: 6, maxInflight: 4, maxInflightBytes: 0, isLearner: false)
        pr.inflights.add(6, bytes: 1)  // in flight while probing
        #expect(pr.invariantViolation()?.contains("in flight in probe") == true)
    }
}

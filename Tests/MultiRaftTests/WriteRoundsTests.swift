import Testing
@testable import MultiRaft

/// The bookkeeping the host and the simulator share between a Ready and its durable report.
@Suite struct WriteRoundsTests {
    func round(_ messages: [String], mark index: LogIndex? = nil) -> WriteRounds<String>.Round {
        var r = WriteRounds<String>.Round()
        r.waiting = messages
        if let index { r.marks.append((1, 1, DurableMark(lastEntryIndex: index, lastEntryTerm: 1))) }
        return r
    }

    @Test func aRoundThatWritesWaitsForItsWrite() {
        var q = WriteRounds<String>()
        #expect(q.enqueue(round(["ack 5"], mark: 5), write: 1) == nil)
        #expect(q.lastSeq == 1)
        #expect(q.complete(through: 0).isEmpty)
        let done = q.complete(through: 1)
        #expect(done.map(\.waiting) == [["ack 5"]])
        #expect(done[0].marks.map(\.mark.lastEntryIndex) == [5])
        #expect(q.inFlight.isEmpty)
    }

    @Test func aRoundWithoutWritesIsDurableAtOnceWhenNothingIsInFlight() {
        var q = WriteRounds<String>()
        let now = q.enqueue(round(["vote"]), write: nil)
        #expect(now?.waiting == ["vote"])
        #expect(q.inFlight.isEmpty)
    }

    // A message that writes nothing may still answer something an earlier write holds (an
    // acknowledgement of entries written a round ago): it leaves after that write, never before.
    @Test func aRoundWithoutWritesWaitsBehindTheLastWriteInFlight() {
        var q = WriteRounds<String>()
        _ = q.enqueue(round(["ack 5"], mark: 5), write: 1)
        _ = q.enqueue(round(["ack 6"], mark: 6), write: 2)
        #expect(q.enqueue(round(["heartbeat reply"]), write: nil) == nil)
        #expect(q.complete(through: 1).map(\.waiting) == [["ack 5"]])
        #expect(q.complete(through: 2).map(\.waiting) == [["ack 6", "heartbeat reply"]])
    }

    @Test func roundsCompleteInOrderAndADiscardLosesThem() {
        var q = WriteRounds<String>()
        for seq: UInt64 in 1...4 { _ = q.enqueue(round(["m\(seq)"], mark: LogIndex(seq)), write: seq) }
        #expect(q.complete(through: 3).map(\.seq) == [1, 2, 3])
        #expect(q.complete(through: 3).isEmpty)
        q.discard()
        #expect(q.inFlight.isEmpty && q.lastSeq == nil)
    }

    @Test func collectTakesTheReportAndTheMessagesThatWait() {
        var rd = Ready()
        rd.entries = [Entry(term: 2, index: 7, kind: .normal, data: [])]
        rd.messages = [Message(kind: .append, to: 2)]
        rd.messagesAfterWrite = [Message(kind: .appendResponse, to: 3)]
        var r = WriteRounds<Message>.Round()
        r.collect(rd, group: 9, replica: 1) { $0 }
        #expect(r.marks.count == 1 && r.marks[0].group == 9 && r.marks[0].mark.lastEntryIndex == 7)
        #expect(r.marks[0].mark.releasedMessages)
        #expect(r.waiting.map(\.to) == [3], "only messagesAfterWrite wait")
        // A Ready with nothing to write and nothing waiting owes no report.
        var empty = WriteRounds<Message>.Round()
        empty.collect(Ready(), group: 9, replica: 1) { $0 }
        #expect(empty.isEmpty)
    }
}

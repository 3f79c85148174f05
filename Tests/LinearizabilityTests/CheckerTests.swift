import Foundation
import MultiRaft
import Testing
@testable import Linearizability

@Suite("Linearizability checker")
struct CheckerTests {
    @Test func sequentialHistoryIsLinearizable() {
        let h = [
            op(1, .set, args: ["a"], 0, 10, ok),
            op(1, .get, 20, 30, str("a")),
            op(2, .del, 40, 50, int(1)),
            op(2, .get, 60, 70, .null),
            op(1, .del, 80, 90, int(0)),
        ]
        #expect(verdict(h) == .linearizable)
    }

    @Test func staleReadIsAViolation() {
        // a is overwritten by b; a read that starts after the overwrite completed still sees a.
        let h = [
            op(1, .set, args: ["a"], 0, 10, ok),
            op(1, .set, args: ["b"], 20, 30, ok),
            op(2, .get, 40, 50, str("a")),
        ]
        guard case .violation(let v) = verdict(h) else { Issue.record("expected a violation"); return }
        #expect(v.key == "k")
        #expect(v.unorderable.contains { $0.kind == .get && $0.result == str("a") })
        #expect(v.description.contains("cannot be ordered"))
    }

    @Test func lostWriteIsAViolation() {
        // An acknowledged write, then a later read that sees nothing.
        let h = [
            op(1, .set, args: ["a"], 0, 10, ok),
            op(2, .get, 20, 30, .null),
        ]
        #expect(isViolation(verdict(h)))
    }

    @Test func lostIncrementIsAViolation() {
        let h = [
            op(1, .incr, 0, 10, int(1)),
            op(2, .incr, 20, 30, int(2)),
            op(1, .get, 40, 50, str("1")),
        ]
        #expect(isViolation(verdict(h)))
    }

    @Test func failedCompareAndSetThatTookEffectIsAViolation() {
        // IFEQ answered "not set" (nil) although the value matched; a later read sees its value.
        let h = [
            op(1, .set, args: ["1"], 0, 10, ok),
            op(2, .setIfEq, args: ["2", "1"], 20, 30, .null),
            op(1, .get, 40, 50, str("2")),
        ]
        #expect(isViolation(verdict(h)))
        // The same with the reply recorded as a failure (no effect).
        let failed = [
            op(1, .set, args: ["1"], 0, 10, ok),
            op(2, .setIfEq, args: ["2", "1"], 20, 30, outcome: .fail),
            op(1, .get, 40, 50, str("2")),
        ]
        #expect(isViolation(verdict(failed)))
    }

    @Test func compareAndSetSemantics() {
        // IFEQ on an absent key does not set; NX sets only an absent key.
        let valid = [
            op(1, .setIfEq, args: ["x", "y"], 0, 10, .null),
            op(1, .setNX, args: ["a"], 20, 30, ok),
            op(1, .setNX, args: ["b"], 40, 50, .null),
            op(1, .setIfEq, args: ["c", "a"], 60, 70, ok),
            op(1, .get, 80, 90, str("c")),
        ]
        #expect(verdict(valid) == .linearizable)
        let nxOnExisting = [
            op(1, .set, args: ["a"], 0, 10, ok),
            op(1, .setNX, args: ["b"], 20, 30, ok),
        ]
        #expect(isViolation(verdict(nxOnExisting)))
        let ifeqOnAbsent = [op(1, .setIfEq, args: ["x", "y"], 0, 10, ok)]
        #expect(isViolation(verdict(ifeqOnAbsent)))
    }

    @Test func unknownWriteThatAppearsLaterIsValid() {
        // A write timed out; much later a read sees it.
        let h = [
            op(1, .set, args: ["a"], 0, 10, ok),
            op(2, .set, args: ["b"], 20, nil),
            op(1, .get, 30, 40, str("a")),
            op(1, .get, 1000, 1010, str("b")),
            op(1, .get, 1020, 1030, str("b")),
        ]
        #expect(verdict(h) == .linearizable)
    }

    @Test func unknownWriteThatNeverHappenedIsValid() {
        let h = [
            op(2, .set, args: ["b"], 0, nil),
            op(1, .get, 30, 40, .null),
            op(1, .get, 1000, 1010, .null),
        ]
        #expect(verdict(h) == .linearizable)
    }

    @Test func unknownWriteCannotTakeEffectBeforeItBegan() {
        let h = [
            op(1, .get, 0, 10, str("b")),
            op(2, .set, args: ["b"], 20, nil),
        ]
        #expect(isViolation(verdict(h)))
    }

    @Test func unknownWriteTakesEffectAtMostOnce() {
        // It appears, is overwritten, and cannot appear again.
        let h = [
            op(2, .set, args: ["b"], 0, nil),
            op(1, .get, 10, 20, str("b")),
            op(1, .set, args: ["c"], 30, 40, ok),
            op(1, .get, 50, 60, str("b")),
        ]
        #expect(isViolation(verdict(h)))
    }

    @Test func concurrentOperationsInEitherOrder() {
        // Two overlapping writes; reads after both may see either, but then both readers agree.
        for winner in ["a", "b"] {
            let h = [
                op(1, .set, args: ["a"], 0, 100, ok),
                op(2, .set, args: ["b"], 10, 90, ok),
                op(3, .get, 200, 210, str(winner)),
                op(3, .get, 220, 230, str(winner)),
            ]
            #expect(verdict(h) == .linearizable)
        }
        let flipFlop = [
            op(1, .set, args: ["a"], 0, 100, ok),
            op(2, .set, args: ["b"], 10, 90, ok),
            op(3, .get, 200, 210, str("a")),
            op(3, .get, 220, 230, str("b")),
        ]
        #expect(isViolation(verdict(flipFlop)))
        // A read concurrent with a write may see the old or the new value.
        for seen in [HistoryOp.Value.null, str("a")] {
            let h = [op(1, .set, args: ["a"], 0, 100, ok), op(2, .get, 10, 50, seen)]
            #expect(verdict(h) == .linearizable)
        }
    }

    @Test func incrementsCount() {
        let valid = [
            op(1, .incr, 0, 100, int(2)),
            op(2, .incr, 10, 50, int(1)),
            op(3, .incr, 20, nil),
            op(1, .get, 200, 210, str("3")),
            op(2, .incr, 220, 230, int(4)),
        ]
        #expect(verdict(valid) == .linearizable)
        let duplicate = [
            op(1, .incr, 0, 100, int(1)),
            op(2, .incr, 10, 50, int(1)),
        ]
        #expect(isViolation(verdict(duplicate)))
        let afterSet = [
            op(1, .set, args: ["41"], 0, 10, ok),
            op(2, .incr, 20, 30, int(42)),
            op(2, .del, 40, 50, int(1)),
            op(2, .incr, 60, 70, int(1)),
        ]
        #expect(verdict(afterSet) == .linearizable)
    }

    @Test func manyUnknownWritesThatNeverHappenedAreDecidedQuickly() {
        // 60 writes time out early and never take effect; 2,000 known operations follow. Trying
        // subsets of the unknown writes would never finish.
        var h: [HistoryOp] = []
        for c in 0..<60 { h.append(op(100 + c, .set, args: ["lost\(c)"], Int64(c), nil)) }
        var t: Int64 = 1000
        for i in 0..<1000 {
            h.append(op(1, .set, args: ["v\(i)"], t, t + 5, ok))
            h.append(op(2, .get, t + 6, t + 9, str("v\(i)")))
            t += 10
        }
        let start = Date()
        #expect(verdict(h) == .linearizable)
        // One lost write shows up at the end: still linearizable (it happened late).
        h.append(op(3, .get, t + 100, t + 110, str("lost7")))
        #expect(verdict(h) == .linearizable)
        // A read of a value nobody wrote is a violation.
        h.append(op(3, .get, t + 200, t + 210, str("never")))
        #expect(isViolation(verdict(h)))
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test func failedOperationsAreIgnored() {
        let h = [
            op(1, .set, args: ["a"], 0, 10, outcome: .fail),
            op(1, .get, 20, 30, .null),
        ]
        #expect(verdict(h) == .linearizable)
    }

    @Test func historiesArePartitionedByKey() {
        let h = [
            op(1, .set, key: "x", args: ["1"], 0, 10, ok),
            op(1, .set, key: "y", args: ["2"], 20, 30, ok),
            op(2, .get, key: "x", 40, 50, str("1")),
            op(2, .get, key: "y", 60, 70, str("1")),
        ]
        let verdicts = LinearizabilityChecker.check(h)
        #expect(verdicts["x"] == .linearizable)
        #expect(isViolation(verdicts["y"]!))
    }

    @Test func stepBoundGivesUnknown() {
        var h: [HistoryOp] = []
        for c in 0..<14 { h.append(op(c, .set, args: ["v\(c)"], Int64(c), 1000, ok)) }
        h.append(op(0, .get, 2000, 2010, str("999")))
        let v = LinearizabilityChecker.checkKey("k", h, limits: CheckLimits(maxSteps: 5000, maxSeconds: 10))
        #expect(v.name == "unknown/timeout")
    }

    @Test func historyFileRoundTrips() throws {
        let h = [
            op(3, .setIfEq, key: "k1", args: ["7", "6"], 1200, 1350, ok),
            op(4, .incr, key: "k2", 1300, nil),
            op(5, .get, key: "k1", 1400, 1500, .null),
            op(5, .del, key: "k1", 1600, 1700, int(1)),
            op(6, .get, key: "k1", 1800, 1900, str("a \"quoted\" value")),
        ]
        let text = HistoryFile.encode(h)
        #expect(text.split(separator: "\n").count == 5)
        #expect(try HistoryFile.decode(text) == h)
        let line = #"{"client":1,"op":"set","key":"k","args":["v"],"invoke":5,"complete":9,"outcome":"ok","result":"OK"}"#
        #expect(try HistoryFile.decode(line + "\n\n") == [op(1, .set, args: ["v"], 5, 9, ok)])
    }

    @Test func historyFileErrorsNameTheLine() {
        let text = #"{"client":1,"op":"get","key":"k","invoke":1,"complete":2,"outcome":"ok","result":null}"# + "\n" +
            #"{"client":1,"op":"set","key":"k","invoke":1,"complete":2,"outcome":"ok","result":"OK"}"#
        #expect(throws: HistoryFile.FormatError.self) { try HistoryFile.decode(text) }
        do { _ = try HistoryFile.decode(text) } catch let e as HistoryFile.FormatError { #expect(e.line == 2) } catch {}
        #expect(throws: HistoryFile.FormatError.self) { try HistoryFile.decode(#"{"client":1,"op":"frob","key":"k","invoke":1,"outcome":"unknown"}"#) }
    }

    @Test func busyHistoryIsDecidedQuickly() {
        // 5 clients × 200 operations on one key, each overlapping the others, from a simulated
        // sequential register so the history is linearizable; then a corrupted copy.
        var rng = SplitMix64(seed: 42)
        var value: String? = nil
        var ops: [HistoryOp] = []
        var time: Int64 = 0
        var pending: [(client: Int, invoke: Int64, op: HistoryOp)] = []
        for step in 0..<1000 {
            let client = step % 5
            let invoke = time
            time += 1
            var o: HistoryOp
            switch rng.next() % 6 {
            case 0: o = op(client, .get, invoke, 0, value.map { .string($0) } ?? .null)
            case 1: let v = String(rng.next() % 5); o = op(client, .set, args: [v], invoke, 0, ok); value = v
            case 2: let v = String(rng.next() % 5); o = op(client, .setNX, args: [v], invoke, 0, value == nil ? ok : .null); if value == nil { value = v }
            case 3:
                let v = String(rng.next() % 5), e = String(rng.next() % 5)
                o = op(client, .setIfEq, args: [v, e], invoke, 0, value == e ? ok : .null)
                if value == e { value = v }
            case 4: o = op(client, .del, invoke, 0, int(value == nil ? 0 : 1)); value = nil
            default:
                let n = (value.flatMap { Int64($0) } ?? 0) + 1
                o = op(client, .incr, invoke, 0, int(n)); value = String(n)
            }
            // The effect happens now; the reply arrives a few steps later, overlapping others.
            pending.append((client, invoke, o))
            time += 1
            if pending.count >= 4 {
                var done = pending.removeFirst().op
                done.complete = time
                ops.append(done)
            }
        }
        for p in pending { var d = p.op; time += 1; d.complete = time; ops.append(d) }
        let start = Date()
        #expect(verdict(ops) == .linearizable)
        // Flip one read far in: it must become a violation, also quickly.
        if let i = ops.indices.last(where: { ops[$0].kind == .get && $0 > 500 }) {
            var bad = ops
            bad[i].result = .string("never-written")
            #expect(isViolation(verdict(bad)))
        }
        #expect(Date().timeIntervalSince(start) < 5)
    }
}

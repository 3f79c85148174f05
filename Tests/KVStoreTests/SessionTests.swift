import Testing
import MultiRaft
@testable import KVStore

/// Exactly-once writes through client sessions.
@Suite struct SessionTests {
    @Test func retryIsAppliedOnce() {
        let r = Replica()
        let first = r.apply(.incrementBy(key: b("n"), delta: 5), client: 7, sequence: 1)
        #expect(first == .integer(5))
        let before = snapshotBytes(r.machine)
        let retry = r.apply(.incrementBy(key: b("n"), delta: 5), client: 7, sequence: 1)
        #expect(retry == first, "the cached result")
        #expect(r.get("n") == "5")
        var after = snapshotBytes(r.machine)
        after.replaceSubrange(12..<20, with: before[12..<20])
        #expect(Array(after.dropLast(4)) == Array(before.dropLast(4)), "nothing but the applied index changed")
        #expect(r.apply(.incrementBy(key: b("n"), delta: 5), client: 7, sequence: 2) == .integer(10))
    }

    // Pipelined writes of one client can arrive out of order: each applies once.
    @Test func outOfOrderSequencesApplyOnce() {
        let r = Replica()
        #expect(r.apply(.incrementBy(key: b("n"), delta: 1), client: 7, sequence: 5) == .integer(1))
        #expect(r.apply(.incrementBy(key: b("n"), delta: 10), client: 7, sequence: 4) == .integer(11))
        #expect(r.apply(.incrementBy(key: b("n"), delta: 10), client: 7, sequence: 4) == .integer(11), "retry of 4")
        #expect(r.apply(.incrementBy(key: b("n"), delta: 1), client: 7, sequence: 5) == .integer(1), "retry of 5")
        #expect(r.get("n") == "11")
    }

    // Beyond the window a sequence can no longer be judged: it is refused, never applied twice.
    @Test func sequencesOlderThanTheWindowAreRefused() {
        var settings = KVSettings()
        settings.sessionWindow = 4
        let r = Replica(settings: settings)
        for seq in 1...10 { r.apply(.incrementBy(key: b("n"), delta: 1), client: 7, sequence: UInt64(seq)) }
        guard case .error(let message) = r.apply(.incrementBy(key: b("n"), delta: 1), client: 7, sequence: 6) else {
            Issue.record("a sequence below the window must be refused")
            return
        }
        #expect(message.contains("stale"))
        #expect(r.get("n") == "10")
        #expect(r.apply(.incrementBy(key: b("n"), delta: 1), client: 7, sequence: 7) == .integer(7), "still in the window")
    }

    // The window always evicts its lowest sequence, also when a client skipped numbers (a
    // request refused before it reached the log) or sent them out of order.
    @Test func windowEvictsTheLowestSequenceDespiteGaps() {
        var sessions = ClientSessions(maxSessions: 10, ttlMillis: 60_000, window: 8)
        var model: [UInt64: KVResult] = [:]
        var floor: UInt64 = 0
        var rng = SplitMix64(seed: 42)
        var next: UInt64 = 1
        for step in 0..<2_000 {
            next += rng.next() % 5 == 0 ? 1 + rng.next() % 40 : 1
            // Now and then an older, not yet seen number arrives late.
            let seq = step % 7 == 3 && next > 12 ? next - 1 - rng.next() % 10 : next
            guard case .new = sessions.verdict(clientID: 9, sequence: seq, clock: 1) else { continue }
            let result = KVResult.integer(Int64(seq))
            sessions.record(clientID: 9, sequence: seq, result: result, clock: 1)
            model[seq] = result
            if model.count > 8, let lowest = model.keys.min() {
                model[lowest] = nil
                floor = max(floor, lowest)
            }
            #expect(sessions.sessions[9]!.results == model && sessions.sessions[9]!.floor == floor, "step \(step)")
        }
    }

    @Test func clientsAreIndependentAndZeroHasNoSession() {
        let r = Replica()
        r.apply(.incrementBy(key: b("n"), delta: 1), client: 1, sequence: 1)
        r.apply(.incrementBy(key: b("n"), delta: 1), client: 2, sequence: 1)
        r.apply(.incrementBy(key: b("n"), delta: 1), client: 0, sequence: 1)
        r.apply(.incrementBy(key: b("n"), delta: 1), client: 0, sequence: 1)
        #expect(r.get("n") == "4")
        #expect(r.machine.sessions.count == 2)
    }

    @Test func errorsAreCachedToo() {
        let r = Replica()
        _ = r.set("s", "text")
        let e = r.apply(.incrementBy(key: b("s"), delta: 1), client: 3, sequence: 1)
        _ = r.set("s", "1")
        #expect(r.apply(.incrementBy(key: b("s"), delta: 1), client: 3, sequence: 1) == e)
        #expect(r.get("s") == "1")
    }

    @Test func leastRecentlyUsedSessionIsEvicted() {
        var settings = KVSettings()
        settings.maxSessions = 3
        let r = Replica(settings: settings)
        for client: UInt64 in 1...3 { r.apply(.incrementBy(key: b("n"), delta: 1), client: client, sequence: 1) }
        r.apply(.incrementBy(key: b("n"), delta: 1), client: 1, sequence: 2) // 1 is now most recent
        r.apply(.incrementBy(key: b("n"), delta: 1), client: 4, sequence: 1) // evicts 2
        #expect(r.machine.sessions.count == 3)
        #expect(Array(r.machine.sessions.order) == [3, 1, 4])
        #expect(r.apply(.incrementBy(key: b("n"), delta: 1), client: 1, sequence: 2) == .integer(4), "1 still deduplicated")
        #expect(r.apply(.incrementBy(key: b("n"), delta: 1), client: 2, sequence: 1) == .integer(6), "2 was forgotten, so it applies again")
        for client: UInt64 in 10..<100 { r.apply(.noop, client: client, sequence: 1) }
        #expect(r.machine.sessions.count == 3, "never more than maxSessions")
    }

    @Test func idleSessionsExpire() {
        var settings = KVSettings()
        settings.sessionTTLMillis = 1_000
        let r = Replica(settings: settings)
        r.apply(.incrementBy(key: b("n"), delta: 1), at: 1_000, client: 1, sequence: 1)
        r.apply(.incrementBy(key: b("n"), delta: 1), at: 1_500, client: 2, sequence: 1)
        r.apply(.noop, at: 2_000)
        #expect(r.machine.sessions.count == 2, "idle exactly the TTL: kept")
        #expect(r.apply(.incrementBy(key: b("n"), delta: 1), at: 2_000, client: 1, sequence: 1) == .integer(1))
        r.apply(.noop, at: 2_001)
        #expect(r.machine.sessions.count == 1)
        #expect(r.machine.sessions.sessions[2] != nil)
        #expect(r.apply(.incrementBy(key: b("n"), delta: 1), client: 1, sequence: 1) == .integer(3), "an expired session cannot deduplicate")
    }
}

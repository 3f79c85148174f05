import Testing
import MultiRaft
@testable import KVStore

/// MULTI/EXEC as one log entry: steps in order, each with its own reply, and the WATCH check
/// made inside the entry against the fingerprints taken at WATCH.
@Suite struct TransactionTests {
    func watch(_ r: Replica, _ keys: String...) -> [WatchedKey] {
        keys.map { WatchedKey(key: b($0), fingerprint: r.machine.fingerprint(b($0))) }
    }

    func transaction(_ watches: [WatchedKey] = [], _ steps: KVCommand...) -> KVCommand {
        .transaction(watches: watches, steps: steps)
    }

    @Test func stepsRunInOrderAndErrorsDoNotStopTheRest() {
        let r = Replica()
        _ = r.set("n", "abc")
        let result = r.apply(transaction([], .set(key: b("a"), value: b("1"), condition: .always, expiry: .none, returnOld: false),
                                         .incrementBy(key: b("a"), delta: 5), .incrementBy(key: b("n"), delta: 1),
                                         .read(.get(key: b("a"))), .read(.getMany(keys: [b("a"), b("zz")])), .delete(keys: [b("a")])))
        #expect(result == .array([.ok, .integer(6), .error(KVStateMachine.notAnInteger), bulk("6"), .array([bulk("6"), .null]), .integer(1)]))
        #expect(r.get("a") == nil)
        #expect(r.get("n") == "abc")
    }

    @Test func aWatchedKeyThatChangedStopsTheWholeBlock() {
        let r = Replica()
        _ = r.set("x", "30")
        let watches = watch(r, "x")
        _ = r.set("x", "30")  // the same value, written again: a change, as Redis counts it
        #expect(r.apply(transaction(watches, .incrementBy(key: b("x"), delta: 1))) == .null)
        #expect(r.get("x") == "30", "nothing ran")
        let again = watch(r, "x")
        #expect(r.apply(transaction(again, .incrementBy(key: b("x"), delta: 1))) == .array([.integer(31)]))
    }

    @Test func whatCountsAsAChange() {
        // Each case: set up, watch, then one change (or not), then the block.
        func outcome(_ setup: (Replica) -> Void, _ change: (Replica) -> Void) -> Bool {
            let r = Replica()
            setup(r)
            let watches = watch(r, "k")
            change(r)
            return r.apply(transaction(watches, .read(.get(key: b("k")))), at: r.now) != .null
        }
        let live: (Replica) -> Void = { _ = $0.set("k", "v") }
        let none: (Replica) -> Void = { _ in }
        #expect(outcome(live, none), "untouched")
        #expect(outcome(live, { _ = $0.set("other", "v") }), "another key")
        #expect(!outcome(live, { $0.apply(.delete(keys: [b("k")])) }), "deleted")
        #expect(!outcome(live, { $0.apply(.expire(key: b("k"), millis: 10_000, absolute: false, condition: .always)) }), "EXPIRE")
        #expect(!outcome(live, { $0.apply(.append(key: b("k"), value: b(""))) }), "APPEND of nothing still writes")
        #expect(!outcome(live, { $0.apply(.flush) }), "FLUSHALL touches a live key")
        #expect(!outcome({ _ = $0.set("k", "v", .always, .afterMillis(100), at: 1_000) }, { $0.apply(.noop, at: 1_200) }),
                "a live key that expired since WATCH")
        // A missing key stays missing whatever happened to it, as Redis does not fail EXEC for a
        // FLUSHALL or a stale key that was not there at WATCH.
        #expect(outcome(none, { $0.apply(.flush) }), "FLUSHALL of a missing key")
        #expect(outcome({ _ = $0.set("k", "v"); $0.apply(.delete(keys: [b("k")])) }, { $0.apply(.flush) }), "FLUSHALL of a deleted key")
        #expect(outcome({ _ = $0.set("k", "v", .always, .afterMillis(1), at: 1_000); $0.apply(.noop, at: 1_005) }, { $0.apply(.noop, at: 2_000) }),
                "a key already expired at WATCH")
        #expect(!outcome(none, { _ = $0.set("k", "v") }), "a missing key created")
    }

    @Test func fingerprintsWithoutHistoryStillSeeValueChanges() {
        var settings = KVSettings()
        settings.historyDepth = 0
        let r = Replica(settings: settings)
        _ = r.set("k", "a")
        let watches = watch(r, "k")
        _ = r.set("k", "b")
        #expect(r.apply(transaction(watches, .read(.get(key: b("k"))))) == .null)
    }

    @Test func aBlockIsAppliedOnceUnderItsSession() {
        let r = Replica()
        let block = transaction([], .incrementBy(key: b("c"), delta: 1), .incrementBy(key: b("c"), delta: 1))
        #expect(r.apply(block, client: 9, sequence: 1) == .array([.integer(1), .integer(2)]))
        #expect(r.apply(block, client: 9, sequence: 1) == .array([.integer(1), .integer(2)]), "a retry returns the first result")
        #expect(r.get("c") == "2")
    }

    @Test func readOnlyBlocksAreEvaluatedWithoutChangingState() {
        let r = Replica()
        _ = r.set("k", "hello")
        let watches = watch(r, "k")
        let before = snapshotBytes(r.machine)
        #expect(r.machine.evaluate(watching: watches, [.get(key: b("k")), .length(key: b("k")), .range(key: b("k"), start: 1, end: -2)])
                == .array([bulk("hello"), .integer(5), bulk("ell")]))
        #expect(snapshotBytes(r.machine) == before)
        _ = r.set("k", "bye")
        #expect(r.machine.evaluate(watching: watches, [.get(key: b("k"))]) == .null)
    }

    @Test func encodingRoundTripsAndRefusesNesting() throws {
        let fp = KeyFingerprint(live: true, version: 7, expiresAt: 99, digest: 0xdead_beef)
        let command = KVCommand.transaction(watches: [WatchedKey(key: b("w"), fingerprint: fp), WatchedKey(key: b("m"), fingerprint: .missing)],
                                            steps: [.read(.history(key: b("k"), limit: 3)), .read(.fingerprints(keys: [b("a"), b("b")])),
                                                    .read(.range(key: b("k"), start: -3, end: -1)), .set(key: b("k"), value: b("v"), condition: .ifAbsent,
                                                    expiry: .afterMillis(5), returnOld: true), .read(.count(keys: [b("k"), b("k")]))])
        let request = KVRequest(clientID: 1, sequence: 2, timestampMillis: 3, command: command)
        #expect(try KVRequest.decode(request.encoded()) == request)
        #expect(KeyFingerprint(encoded: fp.encoded) == fp)
        #expect(KeyFingerprint(encoded: Array(fp.encoded.dropLast())) == nil)
        var badMissing = KeyFingerprint.missing.encoded
        badMissing[3] = 1
        #expect(KeyFingerprint(encoded: badMissing) == nil, "a missing key's fingerprint has no fields")

        let nested = KVRequest(timestampMillis: 1, command: .transaction(watches: [], steps: [.transaction(watches: [], steps: [])]))
        #expect(throws: DecodeError.self) { try KVRequest.decode(nested.encoded()) }
        // Every truncation of a valid entry is refused, never misread.
        let bytes = request.encoded()
        for n in 0..<bytes.count {
            #expect(throws: DecodeError.self) { try KVRequest.decode(Array(bytes.prefix(n))) }
        }
    }

    @Test func readsGiveTheSameResultsAsTheStateMachineAccessors() {
        let r = Replica()
        _ = r.set("k", "value", .always, .afterMillis(5_000), at: 1_000)
        #expect(r.machine.evaluate(.get(key: b("k"))) == bulk("value"))
        #expect(r.machine.evaluate(.get(key: b("missing"))) == .null)
        #expect(r.machine.evaluate(.length(key: b("k"))) == .integer(5))
        #expect(r.machine.evaluate(.timeToLive(key: b("k"))) == .integer(5_000))
        #expect(r.machine.evaluate(.timeToLive(key: b("missing"))) == .integer(-2))
        #expect(r.machine.evaluate(.expiryTime(key: b("k"))) == .integer(6_000))
        #expect(r.machine.evaluate(.expiryTime(key: b("missing"))) == .integer(-2))
        #expect(r.machine.evaluate(.count(keys: [b("k"), b("k"), b("missing")])) == .integer(2))
        #expect(r.machine.evaluate(.range(key: b("k"), start: 0, end: 100)) == bulk("value"))
        #expect(r.machine.evaluate(.history(key: b("k"), limit: 5)) == .array([.array([.integer(1), bulk("value")])]))
    }
}

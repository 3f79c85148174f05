import Testing
import MultiRaft
@testable import KVStore

/// Streaming snapshots: round trips, bounded pieces, and rejection of damaged streams.
@Suite struct SnapshotTests {
    /// A store with 100,000 keys, several with histories, expiries, deletions and sessions.
    static func populated() -> Replica {
        var settings = KVSettings()
        settings.snapshotPieceBytes = 16 << 10
        let r = Replica(settings: settings)
        r.now = 1_000
        var batch: [([UInt8], [UInt8])] = []
        for i in 0..<100_000 {
            batch.append((b("key:\(i)"), b("value-\(i)")))
            if batch.count == 1_000 {
                r.apply(.multiSet(pairs: batch))
                batch.removeAll()
            }
        }
        for i in stride(from: 0, to: 100_000, by: 97) { r.apply(.append(key: b("key:\(i)"), value: b("+more")), client: UInt64(i % 500 + 1), sequence: UInt64(i)) }
        for i in stride(from: 0, to: 100_000, by: 101) { _ = r.set("key:\(i)", "short", .always, .afterMillis(UInt64(i % 5_000 + 1))) }
        r.apply(.delete(keys: (0..<300).map { b("key:\($0 * 7)") }))
        r.apply(.set(key: b("big"), value: [UInt8](repeating: 7, count: 100_000), condition: .always, expiry: .none, returnOld: false))
        r.apply(.noop, at: 3_000)
        return r
    }

    /// A frozen copy keeps the state of the moment it was taken while the original goes on
    /// (what the host snapshots on another thread), and snapshots to the same bytes.
    @Test func frozenCopyIsUnaffectedByLaterWrites() {
        let r = Self.populated()
        let before = snapshotBytes(r.machine)
        let frozen = r.machine.frozenCopy()
        for i in 0..<2_000 { _ = r.set("key:\(i)", "changed-\(i)") }
        r.apply(.delete(keys: (0..<500).map { b("key:\($0 * 3 + 1)") }))
        #expect(snapshotBytes(frozen) == before)
        #expect(snapshotBytes(r.machine) != before)
        #expect(frozen.get(b("key:5")).map { String(decoding: $0, as: UTF8.self) } == "value-5")
    }

    /// Compares every observable part of two machines.
    static func expectEqual(_ a: KVStateMachine, _ b: KVStateMachine) {
        #expect(a.appliedIndex == b.appliedIndex)
        #expect(a.clockMillis == b.clockMillis)
        #expect(a.count == b.count)
        #expect(a.records == b.records)
        #expect(Array(a.keyOrder) == Array(b.keyOrder))
        #expect(Array(a.deadlines) == Array(b.deadlines))
        #expect(Array(a.retired) == Array(b.retired))
        #expect(a.sessions.sessions == b.sessions.sessions)
        #expect(Array(a.sessions.order) == Array(b.sessions.order))
        var cursor: [UInt8] = []
        while true {
            let pa = a.scan(after: cursor, count: 5_000, match: nil), pb = b.scan(after: cursor, count: 5_000, match: nil)
            #expect(pa.keys == pb.keys)
            for key in pa.keys {
                if a.get(key) != b.get(key) || a.ttlMillis(key) != b.ttlMillis(key) { Issue.record("key \(key) differs") }
            }
            guard let next = pa.next else { break }
            cursor = next
        }
        #expect(snapshotBytes(a) == snapshotBytes(b))
    }

    @Test func roundTripOf100kKeys() throws {
        let original = Self.populated()
        #expect(original.machine.count > 99_000)
        #expect(!original.machine.retired.isEmpty && original.machine.sessions.count == 500)
        var pieces: [[UInt8]] = []
        original.machine.writeSnapshot { pieces.append($0) }
        #expect(pieces.count > 100)
        #expect(pieces.allSatisfy { $0.count <= 16 << 10 }, "every piece within snapshotPieceBytes")

        let restored = KVStateMachine(settings: original.machine.settings)
        var next = 0
        try restored.restore {
            defer { next += 1 }
            return next < pieces.count ? pieces[next] : nil
        }
        Self.expectEqual(original.machine, restored)
        #expect(restored.history(b("key:97"), limit: 10).count == 2)

        // Both continue identically.
        var rng = SplitMix64(seed: 9)
        for i in 0..<2_000 {
            let data = KVRequest(clientID: rng.next() % 600, sequence: rng.next() % 3, timestampMillis: 3_000 + UInt64(i),
                                 command: randomCommand(&rng, keys: 2_000)).encoded()
            let index = original.machine.appliedIndex + 1
            #expect(original.machine.apply(index: index, data: data) == restored.apply(index: index, data: data))
        }
        Self.expectEqual(original.machine, restored)
    }

    /// The smallest piece size: integer fields and blobs then start, straddle and end at piece
    /// boundaries in every way, and the stream (with its checksum) must still restore exactly.
    @Test func tinyPiecesRoundTrip() throws {
        var settings = KVSettings()
        settings.snapshotPieceBytes = 16
        let r = Replica(settings: settings)
        r.now = 1_000
        for i in 0..<300 { _ = r.set("k\(i)", String(repeating: "v", count: i % 40)) }
        for i in stride(from: 0, to: 300, by: 7) { r.apply(.append(key: b("k\(i)"), value: b("+")), client: UInt64(i % 9 + 1), sequence: UInt64(i)) }
        for i in stride(from: 0, to: 300, by: 11) { _ = r.set("k\(i)", "e", .always, .afterMillis(UInt64(i + 1))) }
        r.apply(.delete(keys: (0..<20).map { b("k\($0 * 13)") }))
        var cut: [[UInt8]] = []
        r.machine.writeSnapshot { cut.append($0) }
        #expect(cut.allSatisfy { !$0.isEmpty && $0.count <= 16 })
        let restored = KVStateMachine(settings: settings)
        var next = 0
        try restored.restore {
            defer { next += 1 }
            return next < cut.count ? cut[next] : nil
        }
        Self.expectEqual(r.machine, restored)
        // The piece size cuts the stream, nothing else: restored into a machine with the default
        // pieces, the same state writes the same bytes.
        let plain = KVStateMachine()
        try plain.restore(from: pieces(cut.flatMap { $0 }, size: 1_000))
        #expect(snapshotBytes(plain) == cut.flatMap { $0 })
    }

    @Test func restoreAcceptsAnyPieceSizes() throws {
        let r = Replica()
        for i in 0..<200 { _ = r.set("k\(i)", String(repeating: "x", count: i), .always, i % 3 == 0 ? .afterMillis(5_000) : .none) }
        r.apply(.delete(keys: [b("k1"), b("k2")]), client: 5, sequence: 1)
        let bytes = snapshotBytes(r.machine)
        for size in [1, 3, 7, 64, 1_000, bytes.count] {
            let m = KVStateMachine()
            try m.restore(from: pieces(bytes, size: size))
            Self.expectEqual(r.machine, m)
        }
    }

    @Test func rejectsDamagedStreamsAndKeepsState() {
        let source = Replica()
        for i in 0..<300 { _ = source.set("k\(i)", "value \(i)", .always, i % 4 == 0 ? .afterMillis(UInt64(i + 1)) : .none) }
        source.apply(.delete(keys: (0..<20).map { b("k\($0)") }), client: 9, sequence: 1)
        let good = snapshotBytes(source.machine)

        let target = Replica()
        _ = target.set("mine", "kept")
        target.apply(.incrementBy(key: b("n"), delta: 3), client: 1, sequence: 1)
        let before = snapshotBytes(target.machine)

        var rng = SplitMix64(seed: 2024)
        for round in 0..<300 {
            var damaged = good
            if round % 2 == 0 {
                damaged.removeLast(Int.random(in: 1...good.count, using: &rng))
            } else {
                let at = Int.random(in: 0..<good.count, using: &rng)
                damaged[at] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
            }
            #expect(throws: DecodeError.self, "round \(round)") {
                try target.machine.restore(from: pieces(damaged, size: Int.random(in: 1...4_096, using: &rng)))
            }
        }
        #expect(throws: DecodeError.self) { try target.machine.restore(from: pieces(good + [0], size: 100)) }
        #expect(throws: DecodeError.self) { try target.machine.restore(from: pieces([], size: 100)) }
        #expect(snapshotBytes(target.machine) == before, "prior state intact")
        #expect(target.get("mine") == "kept")
    }

    @Test func sourceErrorsPropagateAndKeepState() {
        struct Broken: Error {}
        let r = Replica()
        _ = r.set("a", "1")
        let before = snapshotBytes(r.machine)
        var calls = 0
        let good = snapshotBytes(Self.small())
        #expect(throws: Broken.self) {
            try r.machine.restore {
                calls += 1
                if calls == 2 { throw Broken() }
                return Array(good.prefix(10))
            }
        }
        #expect(snapshotBytes(r.machine) == before)
    }

    static func small() -> KVStateMachine {
        let r = Replica()
        _ = r.set("x", "y")
        return r.machine
    }
}

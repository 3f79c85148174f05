import Testing
import MultiRaft
@testable import KVStore

/// Replicas fed the same entries agree; hostile bytes never crash a replica.
@Suite struct DeterminismTests {
    @Test func sameEntriesSameState() {
        var settings = KVSettings()
        settings.maxSessions = 20
        settings.maxRetiredKeys = 15
        settings.purgeBatch = 3
        settings.historyDepth = 4
        var rng = SplitMix64(seed: 77)
        var entries: [[UInt8]] = []
        var time: UInt64 = 1_000
        for _ in 0..<5_000 {
            time += rng.next() % 5  // mostly forward, sometimes a lagging leader below
            let stamp = rng.next() % 20 == 0 ? time - min(time, 50) : time
            switch rng.next() % 50 {
            case 0: entries.append([])
            case 1: entries.append((0..<Int(rng.next() % 12)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            default:
                entries.append(KVRequest(clientID: rng.next() % 40, sequence: rng.next() % 8, timestampMillis: stamp,
                                         command: randomCommand(&rng)).encoded())
            }
        }
        let a = KVStateMachine(settings: settings), c = KVStateMachine(settings: settings)
        for (i, data) in entries.enumerated() {
            let index = LogIndex(i + 1)
            if a.apply(index: index, data: data) != c.apply(index: index, data: data) {
                Issue.record("results differ at index \(index)")
                return
            }
            if i % 1_000 == 999 { #expect(snapshotBytes(a) == snapshotBytes(c)) }
        }
        SnapshotTests.expectEqual(a, c)
        #expect(a.sessions.count <= 20)
        #expect(a.retired.count <= 15)
    }

    @Test func requestRoundTrip() throws {
        var rng = SplitMix64(seed: 5)
        var commands: [KVCommand] = [.noop, .set(key: [], value: [], condition: .ifEqual([1, 2]), expiry: .atMillis(9), returnOld: true),
                                     .delete(keys: []), .multiSet(pairs: []), .incrementBy(key: [1], delta: Int64.min)]
        for _ in 0..<500 { commands.append(randomCommand(&rng)) }
        for command in commands {
            let request = KVRequest(clientID: rng.next(), sequence: rng.next(), timestampMillis: rng.next(), command: command)
            #expect(try KVRequest.decode(request.encoded()) == request)
        }
        #expect(KVCommand.multiSet(pairs: [([1], [2])]) != KVCommand.multiSet(pairs: [([1], [3])]))
    }

    @Test func garbageNeverCrashesDecoding() {
        var rng = SplitMix64(seed: 1234)
        let valid = KVRequest(clientID: 1, sequence: 2, timestampMillis: 3,
                              command: .multiSet(pairs: [(b("a"), b("b")), (b("c"), b("d"))])).encoded()
        var decoded = 0
        let m = KVStateMachine()
        for i in 0..<20_000 {
            var bytes: [UInt8]
            if i % 2 == 0 {
                bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if !bytes.isEmpty && i % 4 == 0 { bytes[0] = 1 }  // past the format byte
            } else {
                bytes = valid
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
                if rng.next() % 3 == 0 { bytes.removeLast(Int(rng.next() % UInt64(bytes.count))) }
            }
            if (try? KVRequest.decode(bytes)) != nil { decoded += 1 }
            _ = m.apply(index: LogIndex(i + 1), data: bytes)
        }
        #expect(decoded < 20_000)
        #expect(throws: DecodeError.self) { try KVRequest.decode([1, 0, 0]) }
        #expect(throws: DecodeError.self) { try KVRequest.decode(valid + [0]) }
        #expect(throws: DecodeError.self) { try KVRequest.decode([]) }
    }
}

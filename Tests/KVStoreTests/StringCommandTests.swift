import Testing
import MultiRaft
@testable import KVStore

/// SETRANGE, INCRBYFLOAT, SETBIT/GETBIT, RENAME/RENAMENX and COPY: Redis 7.2's replies and errors.
@Suite struct StringCommandTests {
    @Test func setRange() {
        let r = Replica()
        #expect(r.apply(.setRange(key: b("k"), offset: 0, value: [])) == .integer(0), "an empty value on a missing key")
        #expect(!r.machine.exists(b("k")), "creates nothing")
        #expect(r.apply(.setRange(key: b("k"), offset: 1, value: b("foo"))) == .integer(4))
        #expect(r.machine.get(b("k")) == [0] + b("foo"), "padded with a zero byte")
        _ = r.set("s", "Hello World", .always, .afterMillis(10_000))
        #expect(r.apply(.setRange(key: b("s"), offset: 6, value: b("Redis"))) == .integer(11))
        #expect(r.get("s") == "Hello Redis")
        #expect(r.machine.ttlMillis(b("s")) == 10_000, "the TTL stays")
        #expect(r.apply(.setRange(key: b("s"), offset: 5, value: [])) == .integer(11), "an empty value reports the length")
        #expect(r.apply(.setRange(key: b("s"), offset: -1, value: b("x"))) == .error("ERR offset is out of range"))
        var small = KVSettings()
        small.maxValueBytes = 16
        let limited = Replica(settings: small)
        #expect(limited.apply(.setRange(key: b("k"), offset: 15, value: b("xy"))) == .error(KVStateMachine.tooLarge))
        #expect(limited.apply(.setRange(key: b("k"), offset: .max, value: b("xy"))) == .error(KVStateMachine.tooLarge), "no overflow")
        #expect(limited.apply(.setRange(key: b("k"), offset: 14, value: b("xy"))) == .integer(16))
    }

    @Test func incrementByFloat() {
        let r = Replica()
        #expect(r.apply(.incrementByFloat(key: b("f"), delta: b("10.5"))) == bulk("10.5"))
        #expect(r.apply(.incrementByFloat(key: b("f"), delta: b("0.1"))) == bulk("10.6"), "long double: no 10.59999")
        #expect(r.apply(.incrementByFloat(key: b("f"), delta: b("-5"))) == bulk("5.6"))
        #expect(r.apply(.incrementByFloat(key: b("e"), delta: b("5.0e3"))) == bulk("5000"))
        #expect(r.apply(.incrementByFloat(key: b("e"), delta: b("2.0e2"))) == bulk("5200"), "Redis's documented example")
        _ = r.set("big", "17179869184")
        #expect(r.apply(.incrementByFloat(key: b("big"), delta: b("1.5"))) == bulk("17179869185.5"))
        #expect(r.apply(.incrementByFloat(key: b("z"), delta: b("0.1"))) == bulk("0.1"))
        #expect(r.apply(.incrementByFloat(key: b("z"), delta: b("-0.1"))) == bulk("0"), "never -0")
        for bad in [" 1", "1 ", "1\u{0}", "abc", "", "nan", "1e5000"] {
            #expect(r.apply(.incrementByFloat(key: b("f"), delta: b(bad))) == .error(KVStateMachine.notAFloat), "\(bad)")
        }
        _ = r.set("text", " 11")
        #expect(r.apply(.incrementByFloat(key: b("text"), delta: b("1"))) == .error(KVStateMachine.notAFloat), "the stored value is checked too")
        _ = r.set("huge", "1e4932")
        #expect(r.apply(.incrementByFloat(key: b("huge"), delta: b("1e4932"))) == .error(KVStateMachine.notFinite), "past the largest long double")
        #expect(r.apply(.incrementByFloat(key: b("f"), delta: b("+inf"))) == .error(KVStateMachine.notFinite))
        #expect(r.get("f") == "5.6", "a failed increment changes nothing")
    }

    @Test func bits() {
        let r = Replica()
        #expect(r.apply(.setBit(key: b("k"), offset: 1, bit: true)) == .integer(0))
        #expect(r.machine.get(b("k")) == [0x40])
        #expect(r.apply(.setBit(key: b("k"), offset: 1, bit: false)) == .integer(1))
        #expect(r.apply(.setBit(key: b("k"), offset: 17, bit: true)) == .integer(0))
        #expect(r.machine.get(b("k")) == [0x00, 0x00, 0x40], "grown with zero bytes")
        #expect(r.machine.evaluate(.bit(key: b("k"), offset: 17)) == .integer(1))
        #expect(r.machine.evaluate(.bit(key: b("k"), offset: 16)) == .integer(0))
        #expect(r.machine.evaluate(.bit(key: b("k"), offset: 1_000)) == .integer(0), "past the end")
        #expect(r.machine.evaluate(.bit(key: b("missing"), offset: 0)) == .integer(0))
        _ = r.set("a", "a")  // 0x61 = 0110 0001
        #expect((0..<8).map { r.machine.evaluate(.bit(key: b("a"), offset: UInt64($0))) } == [0, 1, 1, 0, 0, 0, 0, 1].map { KVResult.integer($0) })
    }

    @Test func renameMovesValueAndExpiry() {
        let r = Replica()
        #expect(r.apply(.rename(from: b("missing"), to: b("x"), onlyIfAbsent: false)) == .error("ERR no such key"))
        _ = r.set("a", "1", .always, .afterMillis(5_000))
        _ = r.set("b", "2")
        #expect(r.apply(.rename(from: b("a"), to: b("a"), onlyIfAbsent: false)) == .ok, "to itself")
        #expect(r.apply(.rename(from: b("a"), to: b("a"), onlyIfAbsent: true)) == .integer(0))
        #expect(r.apply(.rename(from: b("a"), to: b("b"), onlyIfAbsent: true)) == .integer(0), "RENAMENX onto an existing key")
        #expect(r.apply(.rename(from: b("a"), to: b("b"), onlyIfAbsent: false)) == .ok)
        #expect(r.get("a") == nil && r.get("b") == "1")
        #expect(r.machine.ttlMillis(b("b")) == 5_000, "the expiry moves with the value")
        #expect(r.apply(.rename(from: b("b"), to: b("c"), onlyIfAbsent: true)) == .integer(1))
        #expect(r.machine.history(b("b"), limit: 1).first?.value == nil, "the source's history records the delete")
        r.apply(.noop, at: r.now + 5_000)
        #expect(r.get("c") == nil, "and expires on time")
    }

    @Test func copy() {
        let r = Replica()
        #expect(r.apply(.copy(from: b("missing"), to: b("x"), replace: false)) == .integer(0))
        _ = r.set("a", "1", .always, .afterMillis(5_000))
        #expect(r.apply(.copy(from: b("a"), to: b("b"), replace: false)) == .integer(1))
        #expect(r.get("a") == "1" && r.get("b") == "1")
        #expect(r.machine.ttlMillis(b("b")) == 5_000)
        _ = r.set("a", "2")
        #expect(r.apply(.copy(from: b("a"), to: b("b"), replace: false)) == .integer(0))
        #expect(r.get("b") == "1")
        #expect(r.apply(.copy(from: b("a"), to: b("b"), replace: true)) == .integer(1))
        #expect(r.get("b") == "2" && r.machine.ttlMillis(b("b")) == -1, "REPLACE takes the source's (absent) expiry")
        #expect(r.apply(.copy(from: b("a"), to: b("a"), replace: true)) == .error(KVStateMachine.sameObject))
    }

    @Test func newCommandsRoundTrip() throws {
        for command: KVCommand in [.setRange(key: b("k"), offset: 7, value: b("v")), .incrementByFloat(key: b("k"), delta: b("1.5")),
                                   .rename(from: b("a"), to: b("b"), onlyIfAbsent: true), .copy(from: b("a"), to: b("b"), replace: false),
                                   .setBit(key: b("k"), offset: 99, bit: true), .read(.bit(key: b("k"), offset: 3))] {
            let request = KVRequest(clientID: 1, sequence: 1, timestampMillis: 1, command: command)
            #expect(try KVRequest.decode(request.encoded()) == request)
        }
    }
}

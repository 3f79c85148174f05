import Testing
import MultiRaft
@testable import KVStore

/// Each command's replies and errors, as Redis gives them.
@Suite struct CommandTests {
    @Test func setAndGet() {
        let r = Replica()
        #expect(r.set("a", "1") == .ok)
        #expect(r.get("a") == "1")
        #expect(r.set("a", "2", get: true) == bulk("1"))
        #expect(r.get("a") == "2")
        #expect(r.set("missing", "x", get: true) == .null)
        #expect(r.machine.count == 2)
    }

    @Test func setIfAbsentAndIfPresent() {
        let r = Replica()
        #expect(r.set("a", "1", .ifPresent) == .null, "XX on a missing key does nothing")
        #expect(!r.machine.exists(b("a")))
        #expect(r.set("a", "1", .ifAbsent) == .ok)
        #expect(r.set("a", "2", .ifAbsent) == .null, "NX on an existing key does nothing")
        #expect(r.set("a", "2", .ifAbsent, get: true) == bulk("1"), "NX GET returns the old value")
        #expect(r.get("a") == "1")
        #expect(r.set("a", "3", .ifPresent) == .ok)
        #expect(r.get("a") == "3")
        #expect(r.set("b", "1", .ifPresent, get: true) == .null)
        #expect(!r.machine.exists(b("b")))
    }

    @Test func setIfEqual() {
        let r = Replica()
        #expect(r.set("a", "new", .ifEqual(b("old"))) == .null, "IFEQ never creates a key")
        #expect(!r.machine.exists(b("a")))
        _ = r.set("a", "old")
        #expect(r.set("a", "new", .ifEqual(b("other"))) == .null)
        #expect(r.get("a") == "old")
        #expect(r.set("a", "new", .ifEqual(b("other")), get: true) == bulk("old"), "failed IFEQ with GET returns the old value")
        #expect(r.set("a", "new", .ifEqual(b("old")), get: true) == bulk("old"))
        #expect(r.get("a") == "new")
        #expect(r.set("a", "newer", .ifEqual(b("new"))) == .ok)
        #expect(r.get("a") == "newer")
    }

    @Test func setExpiryOptions() {
        let r = Replica()
        r.now = 10_000
        #expect(r.set("a", "1", .always, .afterMillis(500)) == .ok)
        #expect(r.machine.ttlMillis(b("a")) == 500)
        #expect(r.set("a", "2", .always, .keep) == .ok, "KEEPTTL")
        #expect(r.machine.ttlMillis(b("a")) == 500)
        #expect(r.set("a", "3") == .ok, "a plain SET clears the TTL")
        #expect(r.machine.ttlMillis(b("a")) == -1)
        #expect(r.set("a", "4", .always, .atMillis(12_000)) == .ok)
        #expect(r.machine.ttlMillis(b("a")) == 2_000)
        #expect(r.set("b", "1", .always, .keep) == .ok, "KEEPTTL on a new key: no expiry")
        #expect(r.machine.ttlMillis(b("b")) == -1)
        #expect(r.machine.ttlMillis(b("none")) == -2)
        #expect(r.set("c", "1", .always, .atMillis(5_000)) == .ok, "an expiry in the past is accepted")
        #expect(!r.machine.exists(b("c")))
    }

    @Test func setRejectsInvalidExpiry() {
        let r = Replica()
        let invalid = KVResult.error("ERR invalid expire time in 'set' command")
        for expiry: Expiry in [.afterMillis(0), .atMillis(0), .afterMillis(UInt64(Int64.max)), .atMillis(UInt64.max)] {
            #expect(r.set("a", "1", .always, expiry) == invalid, "\(expiry)")
        }
        #expect(!r.machine.exists(b("a")), "an invalid SET changes nothing")
        _ = r.set("a", "1")
        #expect(r.set("a", "2", .always, .afterMillis(0), get: true) == invalid, "checked before GET")
        #expect(r.get("a") == "1")
    }

    @Test func delete() {
        let r = Replica()
        _ = r.set("a", "1")
        _ = r.set("b", "2")
        #expect(r.apply(.delete(keys: [b("a"), b("b"), b("c"), b("a")])) == .integer(2), "only existing keys count, once")
        #expect(r.machine.count == 0)
        #expect(r.apply(.delete(keys: [b("a")])) == .integer(0))
    }

    @Test func incrementBy() {
        let r = Replica()
        #expect(r.apply(.incrementBy(key: b("n"), delta: 1)) == .integer(1), "a missing key counts as 0")
        #expect(r.apply(.incrementBy(key: b("n"), delta: 10)) == .integer(11))
        #expect(r.apply(.incrementBy(key: b("n"), delta: -20)) == .integer(-9))
        #expect(r.get("n") == "-9")
        _ = r.set("max", "\(Int64.max)")
        #expect(r.apply(.incrementBy(key: b("max"), delta: 1)) == .error("ERR increment or decrement would overflow"))
        #expect(r.get("max") == "\(Int64.max)")
        _ = r.set("min", "\(Int64.min)")
        #expect(r.apply(.incrementBy(key: b("min"), delta: -1)) == .error("ERR increment or decrement would overflow"))
        #expect(r.apply(.incrementBy(key: b("min"), delta: 1)) == .integer(Int64.min + 1))
        for bad in ["abc", "", " 1", "1 ", "+1", "01", "-0", "1.5", "9223372036854775808", "-9223372036854775809", "--1", "-"] {
            _ = r.set("bad", bad)
            #expect(r.apply(.incrementBy(key: b("bad"), delta: 1)) == .error("ERR value is not an integer or out of range"), "\(bad)")
            #expect(r.get("bad") == bad)
        }
        _ = r.set("zero", "0")
        #expect(r.apply(.incrementBy(key: b("zero"), delta: 0)) == .integer(0))
    }

    @Test func incrementKeepsTTL() {
        let r = Replica()
        _ = r.set("n", "5", .always, .afterMillis(1_000))
        #expect(r.apply(.incrementBy(key: b("n"), delta: 1)) == .integer(6))
        #expect(r.machine.ttlMillis(b("n")) == 1_000)
    }

    @Test func append() {
        let r = Replica()
        #expect(r.apply(.append(key: b("s"), value: b("Hello"))) == .integer(5), "APPEND creates a missing key")
        #expect(r.apply(.append(key: b("s"), value: b(" World"))) == .integer(11))
        #expect(r.get("s") == "Hello World")
        _ = r.set("t", "x", .always, .afterMillis(100))
        #expect(r.apply(.append(key: b("t"), value: b("y"))) == .integer(2))
        #expect(r.machine.ttlMillis(b("t")) == 100, "APPEND keeps the TTL")
        var small = KVSettings()
        small.maxValueBytes = 4
        let s = Replica(settings: small)
        #expect(s.apply(.append(key: b("a"), value: b("abc"))) == .integer(3))
        #expect(s.apply(.append(key: b("a"), value: b("de"))) == .error("ERR string exceeds maximum allowed size (proto-max-bulk-len)"))
        #expect(s.get("a") == "abc")
    }

    @Test func getDeleteAndGetSet() {
        let r = Replica()
        #expect(r.apply(.getDelete(key: b("a"))) == .null)
        _ = r.set("a", "1", .always, .afterMillis(100))
        #expect(r.apply(.getSet(key: b("a"), value: b("2"))) == bulk("1"))
        #expect(r.machine.ttlMillis(b("a")) == -1, "GETSET clears the TTL")
        #expect(r.apply(.getDelete(key: b("a"))) == bulk("2"))
        #expect(!r.machine.exists(b("a")))
        #expect(r.apply(.getSet(key: b("b"), value: b("x"))) == .null)
        #expect(r.get("b") == "x")
    }

    @Test func multiSet() {
        let r = Replica()
        _ = r.set("a", "old", .always, .afterMillis(100))
        #expect(r.apply(.multiSet(pairs: [(b("a"), b("1")), (b("b"), b("2")), (b("a"), b("3"))])) == .ok)
        #expect(r.get("a") == "3", "a repeated key: the last value wins")
        #expect(r.get("b") == "2")
        #expect(r.machine.ttlMillis(b("a")) == -1, "MSET clears the TTL")
        #expect(r.machine.count == 2)
    }

    @Test func binaryKeysAndValues() {
        let r = Replica()
        let key: [UInt8] = [0, 255, 13, 10], value: [UInt8] = [0, 0, 1, 200]
        #expect(r.apply(.set(key: key, value: value, condition: .always, expiry: .none, returnOld: false)) == .ok)
        #expect(r.machine.get(key) == value)
        #expect(r.apply(.set(key: [], value: [], condition: .always, expiry: .none, returnOld: false)) == .ok, "the empty key is a key")
        #expect(r.machine.get([]) == [])
        #expect(r.machine.count == 2)
    }

    @Test func noopsAndBadEntries() {
        let r = Replica()
        _ = r.set("a", "1")
        let before = snapshotBytes(r.machine)
        #expect(r.apply(.noop) == .ok)
        #expect(r.applyRaw([]) == .ok, "the leader's no-op")
        let garbage = r.applyRaw([9, 9, 9])
        guard case .error(let message) = garbage else {
            Issue.record("undecodable data must yield an error")
            return
        }
        #expect(message.hasPrefix("ERR undecodable request"))
        #expect(r.machine.appliedIndex == 4)
        var after = snapshotBytes(r.machine)
        #expect(after.count == before.count)
        // Only the applied index (bytes 12..<20) and the checksum differ.
        after.replaceSubrange(12..<20, with: before[12..<20])
        #expect(Array(after.dropLast(4)) == Array(before.dropLast(4)))
        #expect(r.machine.apply(index: 4, data: []) == .error("ERR log index 4 was already applied (applied index 4)"))
    }
}

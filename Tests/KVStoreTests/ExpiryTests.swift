import Testing
import MultiRaft
@testable import KVStore

/// Expiry runs on the replicated clock: the largest entry timestamp applied, never a local clock.
@Suite struct ExpiryTests {
    @Test func keyLivesUntilItsDeadlineOnEveryReplica() {
        let replicas = [Replica(), Replica(), Replica()]
        for r in replicas {
            #expect(r.set("k", "v", .always, .afterMillis(100), at: 1_000) == .ok)
            r.apply(.noop, at: 1_099)
            #expect(r.machine.exists(b("k")))
            #expect(r.machine.ttlMillis(b("k")) == 1)
            #expect(r.machine.count == 1)
            r.apply(.noop, at: 1_100)
            #expect(!r.machine.exists(b("k")), "absent once expiry <= clock")
            #expect(r.get("k") == nil)
            #expect(r.machine.ttlMillis(b("k")) == -2)
            #expect(r.machine.count == 0)
        }
        #expect(Set(replicas.map { snapshotBytes($0.machine) }).count == 1)
    }

    @Test func clockNeverGoesBack() {
        let r = Replica()
        _ = r.set("k", "v", .always, .afterMillis(100), at: 1_000)
        r.apply(.noop, at: 2_000)
        r.apply(.noop, at: 1_050)
        #expect(r.machine.clockMillis == 2_000, "a lagging leader's timestamp does not move the clock back")
        #expect(!r.machine.exists(b("k")))
        _ = r.set("j", "v", .always, .afterMillis(100), at: 1_500)
        #expect(r.machine.ttlMillis(b("j")) == 100, "relative expiry counts from the replicated clock")
    }

    @Test func readsDoNotChangeState() {
        let r = Replica()
        _ = r.set("k", "v", .always, .afterMillis(10), at: 1_000)
        r.apply(.noop, at: 5_000)
        var settings = KVSettings()
        settings.purgeBatch = 0
        let lazy = Replica(settings: settings)
        _ = lazy.set("k", "v", .always, .afterMillis(10), at: 1_000)
        lazy.apply(.noop, at: 5_000)
        let before = snapshotBytes(lazy.machine)
        #expect(lazy.get("k") == nil)
        #expect(lazy.machine.count == 0, "expired keys are not counted even before they are purged")
        _ = lazy.machine.scan(after: [], count: 10, match: nil)
        #expect(snapshotBytes(lazy.machine) == before)
    }

    @Test func expiredKeyIsAbsentToCommands() {
        var settings = KVSettings()
        settings.purgeBatch = 0 // only touching commands remove expired keys
        let r = Replica(settings: settings)
        _ = r.set("a", "5", .always, .afterMillis(10), at: 1_000)
        _ = r.set("b", "x", .always, .afterMillis(10))
        _ = r.set("c", "x", .always, .afterMillis(10))
        _ = r.set("d", "x", .always, .afterMillis(10))
        _ = r.set("e", "x", .always, .afterMillis(10))
        r.now = 2_000
        #expect(r.apply(.incrementBy(key: b("a"), delta: 1)) == .integer(1))
        #expect(r.machine.ttlMillis(b("a")) == -1, "the new key has no TTL")
        #expect(r.apply(.delete(keys: [b("b")])) == .integer(0))
        #expect(r.set("c", "y", .ifAbsent) == .ok)
        #expect(r.set("d", "y", .ifPresent) == .null)
        #expect(r.apply(.append(key: b("e"), value: b("z"))) == .integer(1))
        #expect(r.machine.count == 3, "a, c and e")
    }

    @Test func massExpiryIsPurgedInBoundedBatches() {
        var settings = KVSettings()
        settings.purgeBatch = 10
        let r = Replica(settings: settings)
        r.apply(.multiSet(pairs: (0..<100).map { (b("k\($0)"), b("v")) }), at: 1_000)
        for i in 0..<100 { _ = r.set("k\(i)", "v", .always, .atMillis(2_000)) }
        #expect(r.machine.count == 100)
        r.apply(.noop, at: 2_000)
        #expect(r.machine.count == 0)
        #expect(r.machine.keyOrder.count == 90, "one entry purges one batch")
        for _ in 0..<9 { r.apply(.noop) }
        #expect(r.machine.keyOrder.count == 0)
        #expect(r.machine.deadlines.count == 0)
    }
}

/// EXPIRE and its kin (NX, XX, GT, LT), PERSIST and EXPIRETIME, as Redis 7 answers them.
@Suite struct ExpireCommandTests {
    func expire(_ r: Replica, _ key: String, _ millis: Int64, absolute: Bool = false, _ condition: ExpireCondition = .always) -> KVResult {
        r.apply(.expire(key: b(key), millis: millis, absolute: absolute, condition: condition))
    }

    @Test func setsChangesAndRemovesExpiries() {
        let r = Replica()
        r.now = 1_000
        #expect(expire(r, "missing", 100) == .integer(0))
        _ = r.set("k", "v")
        #expect(r.machine.expiryMillis(b("k")) == -1 && r.machine.expiryMillis(b("missing")) == nil)
        #expect(expire(r, "k", 100) == .integer(1))
        #expect(r.machine.ttlMillis(b("k")) == 100 && r.machine.expiryMillis(b("k")) == 1_100)
        #expect(expire(r, "k", 5_000, absolute: true) == .integer(1))
        #expect(r.machine.expiryMillis(b("k")) == 5_000)
        #expect(r.apply(.persist(key: b("k"))) == .integer(1))
        #expect(r.machine.ttlMillis(b("k")) == -1)
        #expect(r.apply(.persist(key: b("k"))) == .integer(0), "nothing to remove")
        #expect(r.apply(.persist(key: b("missing"))) == .integer(0))
        // The expiry set by EXPIRE is honoured like SET's.
        #expect(expire(r, "k", 50) == .integer(1))
        r.apply(.noop, at: 1_049)
        #expect(r.get("k") == "v")
        r.apply(.noop, at: 1_050)
        #expect(r.get("k") == nil && r.machine.count == 0)
    }

    @Test func conditionsFollowRedis7() {
        let r = Replica()
        r.now = 1_000
        _ = r.set("k", "v")
        #expect(expire(r, "k", 100, .ifAny) == .integer(0), "XX: no expiry yet")
        #expect(expire(r, "k", 100, .ifLater) == .integer(0), "GT: no expiry counts as never")
        #expect(expire(r, "k", 100, .ifSooner) == .integer(1), "LT: sooner than never")
        #expect(expire(r, "k", 500, .ifNone) == .integer(0), "NX: has one now")
        #expect(expire(r, "k", 50, .ifLater) == .integer(0))
        #expect(expire(r, "k", 500, .ifLater) == .integer(1))
        #expect(expire(r, "k", 700, .ifSooner) == .integer(0))
        #expect(expire(r, "k", 200, .ifAny) == .integer(1))
        #expect(r.machine.expiryMillis(b("k")) == 1_200)
    }

    @Test func aTimeAlreadyPastDeletesTheKey() {
        let r = Replica()
        r.now = 1_000
        _ = r.set("k", "v")
        #expect(expire(r, "k", -1) == .integer(1))
        #expect(r.get("k") == nil && r.machine.count == 0)
        _ = r.set("j", "v")
        #expect(expire(r, "j", 999, absolute: true) == .integer(1))
        #expect(r.get("j") == nil)
        #expect(r.machine.history(b("j"), limit: 8).first?.value == nil, "recorded as a deletion, as DEL is")
        #expect(expire(r, "j", 10) == .integer(0), "gone")
        // As Redis checks the time before the key: an overflowing one is an error either way.
        #expect(expire(r, "x", Int64.max) == .error("ERR invalid expire time in 'expire' command"))
        _ = r.set("x", "v")
        #expect(expire(r, "x", Int64.max) == .error("ERR invalid expire time in 'expire' command"))
        #expect(r.get("x") == "v")
    }

    @Test func aTTLChangeIsNotANewVersion() {
        let r = Replica()
        _ = r.set("k", "v1")
        _ = r.set("k", "v2")
        func versions() -> [String] { r.machine.history(b("k"), limit: 8).map { "\($0.index):\($0.value ?? [])" } }
        let before = versions()
        #expect(expire(r, "k", 1_000) == .integer(1))
        #expect(r.apply(.persist(key: b("k"))) == .integer(1))
        #expect(versions() == before && before.count == 2)
    }
}

/// GETEX and MSETNX, as Redis answers them.
@Suite struct GetExAndMSetNXTests {
    @Test func getExReadsThenChangesTheExpiry() {
        let r = Replica()
        r.now = 1_000
        #expect(r.apply(.getExpire(key: b("missing"), expiry: .afterMillis(10))) == .null)
        _ = r.set("k", "v")
        #expect(r.apply(.getExpire(key: b("k"), expiry: nil)) == bulk("v"))
        #expect(r.machine.ttlMillis(b("k")) == -1)
        #expect(r.apply(.getExpire(key: b("k"), expiry: .afterMillis(100))) == bulk("v"))
        #expect(r.machine.ttlMillis(b("k")) == 100)
        #expect(r.apply(.getExpire(key: b("k"), expiry: Expiry.none)) == bulk("v"))
        #expect(r.machine.ttlMillis(b("k")) == -1, "PERSIST")
        #expect(r.apply(.getExpire(key: b("k"), expiry: .atMillis(999))) == bulk("v"), "a past time returns the value ...")
        #expect(r.get("k") == nil, "... and deletes the key")
    }

    @Test func msetnxSetsAllOrNone() {
        let r = Replica()
        #expect(r.apply(.multiSetIfAbsent(pairs: [(b("a"), b("1")), (b("b"), b("2"))])) == .integer(1))
        #expect(r.get("a") == "1" && r.get("b") == "2")
        #expect(r.apply(.multiSetIfAbsent(pairs: [(b("c"), b("3")), (b("a"), b("9"))])) == .integer(0))
        #expect(r.get("c") == nil && r.get("a") == "1")
    }
}

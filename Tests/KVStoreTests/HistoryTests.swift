import Testing
import MultiRaft
@testable import KVStore

/// Per-key history: every write and delete, newest first, bounded by `historyDepth`.
@Suite struct HistoryTests {
    func values(_ h: [(index: LogIndex, value: [UInt8]?)]) -> [String?] {
        h.map { $0.value.map { String(decoding: $0, as: UTF8.self) } }
    }

    @Test func recordsWritesAndDeletesNewestFirst() {
        let r = Replica()
        _ = r.set("k", "1")                                  // index 1
        r.apply(.append(key: b("k"), value: b("2")))          // 2
        r.apply(.delete(keys: [b("k")]))                      // 3
        _ = r.set("k", "3")                                   // 4
        let h = r.machine.history(b("k"), limit: 10)
        #expect(h.map(\.index) == [4, 3, 2, 1])
        #expect(values(h) == ["3", nil, "12", "1"])
        #expect(values(r.machine.history(b("k"), limit: 2)) == ["3", nil])
        #expect(r.machine.history(b("other"), limit: 10).isEmpty)
        #expect(r.machine.history(b("k"), limit: 0).isEmpty)
    }

    @Test func failedConditionsWriteNothing() {
        let r = Replica()
        _ = r.set("k", "1")
        _ = r.set("k", "2", .ifAbsent)
        _ = r.set("k", "2", .ifEqual(b("x")))
        r.apply(.delete(keys: [b("nothing")]))
        #expect(r.machine.history(b("k"), limit: 10).count == 1)
        #expect(r.machine.history(b("nothing"), limit: 10).isEmpty)
    }

    @Test func depthIsBounded() {
        var settings = KVSettings()
        settings.historyDepth = 3
        let r = Replica(settings: settings)
        for i in 1...10 { _ = r.set("k", "\(i)") }
        #expect(values(r.machine.history(b("k"), limit: 100)) == ["10", "9", "8"])
        settings.historyDepth = 0
        let none = Replica(settings: settings)
        _ = none.set("k", "1")
        none.apply(.delete(keys: [b("k")]))
        #expect(none.machine.history(b("k"), limit: 10).isEmpty)
        #expect(none.machine.records.isEmpty, "no history: nothing kept after a delete")
    }

    @Test func deletedKeysHistoriesAreBounded() {
        var settings = KVSettings()
        settings.maxRetiredKeys = 2
        let r = Replica(settings: settings)
        for k in ["a", "b", "c"] { _ = r.set(k, "1") }
        r.apply(.delete(keys: [b("a"), b("b"), b("c")]))
        #expect(r.machine.history(b("a"), limit: 10).isEmpty, "the longest deleted is forgotten")
        #expect(values(r.machine.history(b("c"), limit: 10)) == [nil, "1"])
        _ = r.set("b", "2")
        #expect(values(r.machine.history(b("b"), limit: 10)) == ["2", nil, "1"], "a rewritten key continues its history")
        #expect(Array(r.machine.retired).map(\.bytes) == [b("c")])
    }

    @Test func expiryKeepsHistoryWithoutARecord() {
        let r = Replica()
        _ = r.set("k", "1", .always, .afterMillis(10), at: 1_000)
        r.apply(.noop, at: 2_000)
        #expect(!r.machine.exists(b("k")))
        #expect(values(r.machine.history(b("k"), limit: 10)) == ["1"])
    }
}

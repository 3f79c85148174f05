import Testing
@testable import MultiRaft

/// Inputs the fuzzer found that crashed a decoder; each must now be rejected with an error.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    /// A WAL entries record whose first entry has index UInt64.max: the contiguity check
    /// computed `index + 1` and trapped on overflow (found by wal-records, seed 1).
    @Test func walEntriesAtMaximumIndexAreRejected() {
        var w = BinaryWriter()
        WALRecord.entries(group: 1, entries: [Entry(term: 1, index: .max, data: [1]), Entry(term: 1, index: 0, data: [2])]).encode(into: &w)
        guard case .bad(let why) = WriteAheadLog.parse(w.bytes, at: 0, maxRecord: 1 << 20) else {
            Issue.record("accepted a record with entries max, 0")
            return
        }
        #expect(why.contains("not contiguous"))
        // A single entry at the maximum index is well-formed.
        var one = BinaryWriter()
        WALRecord.entries(group: 1, entries: [Entry(term: 1, index: .max, data: [1])]).encode(into: &one)
        guard case .record = WriteAheadLog.parse(one.bytes, at: 0, maxRecord: 1 << 20) else {
            Issue.record("rejected a single entry at the maximum index")
            return
        }
    }
}

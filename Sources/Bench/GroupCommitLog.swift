import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import MultiRaft
import Synchronization

/// Group commit for concurrent writers: callers hand records to `append` and block; one
/// writer thread takes everything pending, makes it durable with one `LogStorage.append`
/// (one write, one fdatasync), and wakes them all. The multi-Raft host gets the same effect
/// by batching the `Ready`s of one loop iteration; this serves writers on many threads, for
/// `mystore-bench wal` (it is not on the server's write path).
final class GroupCommitLog: @unchecked Sendable {
    final class Waiter: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var error: StorageError?
    }

    struct Queue {
        var pending: [WALRecord] = []
        var waiters: [Waiter] = []
        var stopped = false
    }

    private let storage: LogStorage
    private let queue = Mutex(Queue())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private(set) var batches = 0

    init(storage: LogStorage) {
        self.storage = storage
        detachThread(name: "group-commit") { [self] in run() }
    }

    /// Blocks until `records` are durable.
    func append(_ records: [WALRecord]) throws(StorageError) {
        let w = Waiter()
        let wasEmpty = queue.withLock { q in
            let empty = q.waiters.isEmpty
            q.pending.append(contentsOf: records)
            q.waiters.append(w)
            return empty
        }
        if wasEmpty { wake.signal() }
        w.done.wait()
        if let e = w.error { throw e }
    }

    /// Stops the writer after the pending batch.
    func close() {
        queue.withLock { $0.stopped = true }
        wake.signal()
        finished.wait()
    }

    private func run() {
        while true {
            wake.wait()
            while true {
                let (records, waiters, stopped) = queue.withLock { q in
                    defer { q.pending = []; q.waiters = [] }
                    return (q.pending, q.waiters, q.stopped)
                }
                if waiters.isEmpty {
                    if stopped { finished.signal(); return }
                    break
                }
                var failure: StorageError?
                do throws(StorageError) { try storage.append(records) } catch { failure = error }
                batches += 1
                for w in waiters {
                    w.error = failure
                    w.done.signal()
                }
            }
        }
    }
}

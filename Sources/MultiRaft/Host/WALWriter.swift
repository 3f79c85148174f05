import Dispatch
import Synchronization

/// The host's storage thread: takes the records of host rounds as they are handed in and
/// makes everything pending durable with one `WriteAheadLog.append` (one write, one
/// fdatasync), so the host loop never has to wait for the disk. Rounds handed in while a sync
/// runs share the next one. Completions are reported in order, to a thread blocked in `wait`
/// or else through `onDurable`, with the sequence number of the newest round made durable.
///
/// Every use of the WAL after the host starts goes through here (`withWAL` for the rare
/// synchronous ones), so the log is only ever touched by one thread at a time.
final class WALWriter: @unchecked Sendable {
    private struct State {
        var records: [WALRecord] = []
        /// Sequence number of the newest round handed in.
        var submitted: UInt64 = 0
        /// Sequence number of the newest round durable.
        var durable: UInt64 = 0
        var idle = true
        var stopping = false
        var waiters: [(seq: UInt64, done: DispatchSemaphore)] = []
    }

    private let wal: WriteAheadLog
    private let state = Mutex(State())
    /// Held around every use of `wal` (the writer's appends and `withWAL`).
    private let walLock = Mutex(())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let onDurable: @Sendable (UInt64) -> Void
    private let onFatal: @Sendable (String) -> Never
    private var started = false

    init(wal: WriteAheadLog, onFatal: @escaping @Sendable (String) -> Never, onDurable: @escaping @Sendable (UInt64) -> Void) {
        self.wal = wal
        self.onFatal = onFatal
        self.onDurable = onDurable
    }

    func start() {
        guard !started else { return }
        started = true
        Thread.detach(name: "wal-writer") { [self] in run() }
    }

    /// Hands `records` to the writer; returns the round's sequence number (reported to
    /// `onDurable` once they are durable).
    func submit(_ records: [WALRecord]) -> UInt64 {
        let (seq, wasIdle) = state.withLock { s in
            s.records.append(contentsOf: records)
            s.submitted += 1
            let idle = s.idle
            s.idle = false
            return (s.submitted, idle)
        }
        if wasIdle { wake.signal() }
        return seq
    }

    /// Blocks until round `seq` (and every round before it) is durable.
    func wait(for seq: UInt64) {
        _ = wait(for: seq, timeout: .distantFuture)
    }

    /// Blocks until round `seq` is durable or `timeout` passes; returns whether it is durable.
    func wait(for seq: UInt64, timeout: DispatchTime) -> Bool {
        let sem = DispatchSemaphore(value: 0)
        let done = state.withLock { s in
            if s.durable >= seq { return true }
            s.waiters.append((seq, sem))
            return false
        }
        if done { return true }
        if sem.wait(timeout: timeout) == .success { return true }
        // Timed out; the writer may have released it meanwhile.
        return state.withLock { s in
            s.waiters.removeAll { $0.done === sem }
            return s.durable >= seq
        }
    }

    /// Runs `body` with the WAL while no write is in progress.
    func withWAL<R>(_ body: (WriteAheadLog) throws(StorageError) -> R) throws(StorageError) -> R {
        try walLock.withLock { _ throws(StorageError) -> R in try body(wal) }
    }

    /// Makes everything handed in durable, then stops the thread.
    func stop() {
        guard started else { return }
        state.withLock { $0.stopping = true }
        wake.signal()
        finished.wait()
    }

    private func run() {
        while true {
            let batch: (records: [WALRecord], seq: UInt64)? = state.withLock { s in
                if s.submitted == s.durable {
                    s.idle = true
                    return nil
                }
                defer { s.records = [] }
                return (s.records, s.submitted)
            }
            guard let batch else {
                if state.withLock({ $0.stopping && $0.submitted == $0.durable }) {
                    finished.signal()
                    return
                }
                wake.wait()
                continue
            }
            do {
                try withWAL { wal throws(StorageError) in try wal.append(batch.records) }
            } catch {
                // Nothing may be acknowledged that is not durable: stop the node.
                onFatal("cannot write the WAL: \(error)")
            }
            let release = state.withLock { s in
                s.durable = batch.seq
                let ready = s.waiters.filter { $0.seq <= batch.seq }
                s.waiters.removeAll { $0.seq <= batch.seq }
                return ready
            }
            for w in release { w.done.signal() }
            // A released waiter completes the rounds itself (it waited for the newest one);
            // otherwise the host learns it through its mailbox.
            if release.isEmpty { onDurable(batch.seq) }
        }
    }
}

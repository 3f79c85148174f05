import Dispatch
import MultiRaft
import NIOConcurrencyHelpers
import NIOCore
import ShardRouter
import SystemClock

/// Online backups of shards this node leads (`MYSTORE.BACKUP BEGIN|NEXT|END`, see
/// `BackupCommands`). A session holds a frozen copy of one shard's state at one applied index
/// (captured on the host's thread by a ReadIndex read) and a thread that streams it through a
/// `SnapshotEncoder`: the snapshot file format, compressed chunks of about 1 MiB, each
/// checksummed. The encoded pieces wait in a queue of at most `maxQueuedPieces`, so a session
/// holds a few MiB whatever the shard's size; the thread waits while the queue is full, and a
/// client's `NEXT` takes what is queued (or waits for the next piece).
///
/// A session no client asked for in `idleSeconds` is dropped, and its thread stops.
final class BackupSessions: @unchecked Sendable {
    static let maxQueuedPieces = 4
    static let maxSessions = 8
    static let idleSeconds = 60.0

    private let sessions = NIOLockedValueBox<(next: UInt64, open: [UInt64: BackupSession])>((1, [:]))
    let compressionLevel: Int32
    /// The encoding thread's nice value (`snapshot_thread_nice`, as for compaction snapshots):
    /// a backup takes the CPU the request path leaves over.
    let threadNice: Int32

    init(compressionLevel: Int32, threadNice: Int32) {
        self.compressionLevel = compressionLevel
        self.threadNice = threadNice
    }

    /// Starts streaming `body` (a frozen state of `group` at `index`); nil when too many
    /// sessions are open or no thread can be started.
    func begin(group: GroupID, index: LogIndex, body: @escaping SnapshotBody) -> BackupSession? {
        let now = monotonicSeconds()
        let session: BackupSession? = sessions.withLockedValue { s in
            for (id, open) in s.open where open.idleSince(now) > Self.idleSeconds {
                open.cancel()
                s.open[id] = nil
            }
            guard s.open.count < Self.maxSessions else { return nil }
            let session = BackupSession(id: s.next, group: group, index: index)
            s.next += 1
            s.open[session.id] = session
            return session
        }
        guard let session else { return nil }
        let level = compressionLevel, nice = threadNice
        let started = detachThread(name: "backup-send") { [weak self] in
            lowerThreadPriority(nice)
            session.produce(body: body, compressionLevel: level)
            if session.isCancelled { self?.end(session.id) }
        }
        if !started {
            end(session.id)
            return nil
        }
        return session
    }

    func session(_ id: UInt64) -> BackupSession? { sessions.withLockedValue { $0.open[id] } }

    /// Drops a session (the client is done, or gave up).
    func end(_ id: UInt64) {
        let s = sessions.withLockedValue { $0.open.removeValue(forKey: id) }
        s?.cancel()
    }
}

/// One shard being streamed; see `BackupSessions`.
final class BackupSession: @unchecked Sendable {
    typealias Reply = @Sendable (RESPValue) -> Void

    let id: UInt64
    let group: GroupID
    let index: LogIndex

    private struct State {
        var pieces: [[UInt8]] = []
        var finished = false
        var failure: String?
        var cancelled = false
        var waiter: Reply?
        var touched = monotonicSeconds()
    }

    private let state = NIOLockedValueBox(State())
    /// Free places in the queue; the producer takes one per piece, a `NEXT` gives them back.
    private let space = DispatchSemaphore(value: BackupSessions.maxQueuedPieces)

    init(id: UInt64, group: GroupID, index: LogIndex) {
        self.id = id
        self.group = group
        self.index = index
    }

    var isCancelled: Bool { state.withLockedValue { $0.cancelled } }

    func idleSince(_ now: Double) -> Double { state.withLockedValue { $0.waiter == nil ? now - $0.touched : 0 } }

    func cancel() {
        let waiter = state.withLockedValue { s -> Reply? in
            s.cancelled = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?(.error("ERR backup session \(id) was cancelled"))
        space.signal()
    }

    private struct Cancelled: Error {}

    /// Runs on the session's thread: encodes the frozen state into the queue.
    func produce(body: SnapshotBody, compressionLevel: Int32) {
        var failure: String?
        do {
            // The header carries the shard's group and the applied index; the term and the
            // configuration are the new cluster's business at restore.
            let meta = SnapshotMetadata(index: index, term: 0, configuration: Configuration())
            let encoder = try SnapshotEncoder(group: group, metadata: meta, compressionLevel: compressionLevel) { [self] piece in
                try push(piece)
            }
            try body { bytes in try encoder.write(bytes) }
            try encoder.finish()
        } catch is Cancelled {
            return
        } catch {
            failure = "\(error)"
        }
        let (waiter, reply) = state.withLockedValue { s -> (Reply?, RESPValue?) in
            s.finished = true
            s.failure = failure
            guard let w = s.waiter else { return (nil, nil) }
            s.waiter = nil
            return (w, takeReply(&s))
        }
        if let waiter, let reply { waiter(reply) }
    }

    /// Queues one encoded piece, waiting while the queue is full.
    private func push(_ piece: [UInt8]) throws {
        while space.wait(timeout: .now() + .seconds(1)) == .timedOut {
            if isCancelled { throw Cancelled() }
            if idleSince(monotonicSeconds()) > BackupSessions.idleSeconds {
                // Nobody asks for this stream any more: drop the session (and the frozen state).
                cancel()
                throw Cancelled()
            }
        }
        let (waiter, reply) = state.withLockedValue { s -> (Reply?, RESPValue?) in
            if s.cancelled { return (nil, nil) }
            s.pieces.append(piece)
            guard let w = s.waiter else { return (nil, nil) }
            s.waiter = nil
            return (w, takeReply(&s))
        }
        if isCancelled { throw Cancelled() }
        if let waiter, let reply { waiter(reply) }
    }

    /// The reply to a `NEXT`: every queued piece as one bulk string, nil (`$-1`) at the end of
    /// the stream, or the error that stopped it. Gives the pieces' places back to the producer.
    private func takeReply(_ s: inout State) -> RESPValue? {
        s.touched = monotonicSeconds()
        if !s.pieces.isEmpty {
            var buffer = ByteBuffer()
            buffer.reserveCapacity(s.pieces.reduce(0) { $0 + $1.count })
            for p in s.pieces { buffer.writeBytes(p) }
            let n = s.pieces.count
            s.pieces.removeAll()
            for _ in 0..<n { space.signal() }
            return .bulkString(buffer)
        }
        if let failure = s.failure { return .error("ERR backup of group \(group) failed: \(failure)") }
        if s.finished { return .null }
        return nil
    }

    /// A client's `NEXT`: answered now when pieces are queued or the stream is over, else when
    /// the next piece is encoded.
    func next(reply: @escaping Reply) {
        let now = state.withLockedValue { s -> RESPValue? in
            if s.cancelled { return .error("ERR backup session \(id) was cancelled") }
            if s.waiter != nil { return .error("ERR backup session \(id) already has a NEXT waiting") }
            if let r = takeReply(&s) { return r }
            s.waiter = reply
            return nil
        }
        if let now { reply(now) }
    }
}

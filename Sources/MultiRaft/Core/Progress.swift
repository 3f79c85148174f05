/// The leader's view of one follower: how far its log matches, and how replication to it is
/// paced (the probe / replicate / snapshot states of etcd-io/raft's tracker).
struct Progress: Sendable {
    enum State: Sendable, Equatable {
        /// Unknown match: one append at a time until the follower accepts one.
        case probe
        /// Known match: appends are pipelined up to the in-flight limits.
        case replicate
        /// Behind the leader's compacted log: waiting for a snapshot to be installed.
        case snapshot
    }

    var match: LogIndex = 0
    var next: LogIndex
    var state: State = .probe
    /// The snapshot index sent while in `.snapshot`.
    var pendingSnapshot: LogIndex = 0
    /// Ticks spent in `.snapshot`; a transfer that never completes is retried.
    var snapshotTicks = 0
    /// Leader ticks since this follower last answered; "recently active" below the election
    /// timeout (check-quorum, snapshot sending, conf-change safety).
    var inactiveTicks = 0
    /// In `.replicate`: leader ticks since `match` last advanced while appends were in flight.
    /// Appends can be lost (a dropped connection); past a limit the leader probes again.
    var stallTicks = 0
    /// In `.probe`: an append is outstanding, send no more until a response.
    var probeSent = false
    /// The commit index carried by the last append sent to this follower.
    var sentCommit: LogIndex = 0
    var inflights: Inflights
    var isLearner: Bool

    init(next: LogIndex, maxInflight: Int, maxInflightBytes: Int, isLearner: Bool) {
        self.next = next
        self.inflights = Inflights(capacity: maxInflight, maxBytes: maxInflightBytes)
        self.isLearner = isLearner
    }

    var isPaused: Bool {
        switch state {
        case .probe: probeSent
        case .replicate: inflights.isFull
        case .snapshot: true
        }
    }

    private mutating func reset(_ s: State) {
        state = s
        probeSent = false
        stallTicks = 0
        pendingSnapshot = 0
        snapshotTicks = 0
        inflights.reset()
    }

    mutating func becomeProbe() {
        if state == .snapshot {
            let pending = pendingSnapshot
            reset(.probe)
            next = max(match + 1, pending + 1)
        } else {
            reset(.probe)
            next = match + 1
        }
    }

    mutating func becomeReplicate() {
        reset(.replicate)
        next = match + 1
    }

    mutating func becomeSnapshot(_ index: LogIndex) {
        reset(.snapshot)
        pendingSnapshot = index
        checkInvariants("becomeSnapshot")
    }

    /// Records an acknowledgement up to `n`; returns whether `match` moved.
    mutating func maybeUpdate(_ n: LogIndex) -> Bool {
        var updated = false
        if match < n {
            match = n
            updated = true
            probeSent = false
            stallTicks = 0
        }
        next = max(next, n + 1)
        checkInvariants("maybeUpdate")
        return updated
    }

    /// Handles a rejected append at `rejected`, with the follower's hint of where its log may
    /// match. Returns false for a stale rejection.
    mutating func maybeDecrTo(rejected: LogIndex, matchHint: LogIndex) -> Bool {
        if state == .replicate {
            if rejected <= match { return false }
            next = match + 1
            return true
        }
        if next == 0 || next - 1 != rejected { return false }
        next = max(min(rejected, matchHint + 1), match + 1)
        probeSent = false
        checkInvariants("maybeDecrTo")
        return true
    }

    /// Book-keeping after sending `count` entries ending at `last` (`bytes` in total).
    mutating func sentEntries(count: Int, last: LogIndex, bytes: Int) {
        switch state {
        case .replicate:
            if count > 0 {
                next = last + 1
                inflights.add(last, bytes: bytes)
            }
        case .probe:
            probeSent = true
        case .snapshot:
            break
        }
        checkInvariants("sentEntries")
    }
}

extension Progress {
    /// What a follower's progress always holds, or nil:
    /// - `next` is beyond `match` (the leader never resends what is known to match);
    /// - only `.replicate` has appends in flight, only `.snapshot` a pending snapshot;
    /// - the in-flight window never holds a negative byte count.
    func invariantViolation() -> String? {
        if next <= match { return "next \(next) is not beyond match \(match)" }
        if state != .replicate && inflights.count != 0 { return "\(inflights.count) appends in flight in \(state)" }
        if state != .snapshot && pendingSnapshot != 0 { return "pending snapshot \(pendingSnapshot) in \(state)" }
        if inflights.bytes < 0 { return "\(inflights.bytes) bytes in flight" }
        return nil
    }

    /// Stops a debug build whose progress broke an invariant; compiled out of release builds.
    func checkInvariants(_ after: StaticString) {
        #if DEBUG
        if let problem = invariantViolation() { preconditionFailure("Progress after \(after): \(problem)") }
        #endif
    }
}

/// A bounded window of in-flight appends (by count and by bytes) to one follower.
struct Inflights: Sendable {
    private var indexes: [LogIndex] = []
    private var sizes: [Int] = []
    private var head = 0
    private(set) var bytes = 0
    let capacity: Int
    let maxBytes: Int

    init(capacity: Int, maxBytes: Int) {
        self.capacity = max(1, capacity)
        self.maxBytes = maxBytes
    }

    var count: Int { indexes.count - head }
    var isFull: Bool { count >= capacity || (maxBytes > 0 && bytes >= maxBytes) }

    mutating func add(_ index: LogIndex, bytes size: Int) {
        indexes.append(index)
        sizes.append(size)
        bytes += size
    }

    /// Frees every in-flight append up to and including `to`.
    mutating func freeLE(_ to: LogIndex) {
        while head < indexes.count && indexes[head] <= to {
            bytes -= sizes[head]
            head += 1
        }
        if head > 64 && head * 2 > indexes.count {
            indexes.removeFirst(head)
            sizes.removeFirst(head)
            head = 0
        }
    }

    mutating func reset() {
        indexes.removeAll(keepingCapacity: true)
        sizes.removeAll(keepingCapacity: true)
        head = 0
        bytes = 0
    }
}

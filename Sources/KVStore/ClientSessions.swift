import MultiRaft

/// Client sessions for exactly-once writes: per client, the last sequence number applied and
/// its result, so a retried request gets the original answer instead of being applied twice.
///
/// Bounded in number (least recently used evicted first) and in time (sessions idle longer
/// than the TTL on the replicated clock are dropped). A client keeps at most one write in
/// flight per client id: a sequence below the last applied one cannot be answered any more.
struct ClientSessions {
    struct Session: Equatable, Sendable {
        var sequence: UInt64
        var lastSeenMillis: UInt64
        var result: KVResult
    }

    /// What to do with an incoming request.
    enum Verdict: Equatable {
        /// Not seen before: apply it.
        case new
        /// A retry of the last applied request: answer with its result.
        case duplicate(KVResult)
        /// Older than the last applied request: refuse it without applying.
        case stale(lastSequence: UInt64)
    }

    let maxSessions: Int
    let ttlMillis: UInt64
    private(set) var sessions: [UInt64: Session] = [:]
    /// Least recently used first; since the clock never goes back, also oldest `lastSeenMillis` first.
    private(set) var order = EvictionQueue<UInt64>()

    init(maxSessions: Int, ttlMillis: UInt64) {
        self.maxSessions = maxSessions
        self.ttlMillis = ttlMillis
    }

    var count: Int { sessions.count }

    private func isIdle(_ s: Session, at clock: UInt64) -> Bool {
        clock > s.lastSeenMillis && clock - s.lastSeenMillis > ttlMillis
    }

    /// Judges a request of `clientID` (non-zero). Sessions past their TTL count as absent
    /// whether or not they have been purged yet, so the verdict does not depend on purge timing.
    func verdict(clientID: UInt64, sequence: UInt64, clock: UInt64) -> Verdict {
        guard let s = sessions[clientID], !isIdle(s, at: clock) else { return .new }
        if sequence == s.sequence { return .duplicate(s.result) }
        if sequence < s.sequence { return .stale(lastSequence: s.sequence) }
        return .new
    }

    /// Remembers an applied request's result and evicts the least recently used sessions
    /// beyond the bound.
    mutating func record(clientID: UInt64, sequence: UInt64, result: KVResult, clock: UInt64) {
        sessions[clientID] = Session(sequence: sequence, lastSeenMillis: clock, result: result)
        order.append(clientID)
        while sessions.count > maxSessions, let oldest = order.removeFirst() {
            sessions.removeValue(forKey: oldest)
        }
    }

    /// Drops up to `limit` sessions idle past the TTL.
    mutating func purgeIdle(clock: UInt64, limit: Int) {
        var left = limit
        while left > 0, let oldest = order.first, let s = sessions[oldest], isIdle(s, at: clock) {
            order.remove(oldest)
            sessions.removeValue(forKey: oldest)
            left -= 1
        }
    }
}
